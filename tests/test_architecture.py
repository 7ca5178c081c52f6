"""The library's shape: layers kept (import-linter), no import cycle, small modules, a light Draw page.

docs/architecture.md explains the layers; pyproject.toml declares them for ``lint-imports``.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from import_graph import ROOT, cycles, import_graph, module_name, modules, reachable

MAX_MODULE_LINES = 450
# What a visitor drawing loads: the router, the Draw page and what it uses.
DRAW_PAGE = {"app", "app_pages.draw", "app_pages.shared", "app_pages.teach"}


def test_the_layers_contract_is_kept():
    """``lint-imports`` checks pyproject.toml's contracts over every import, those in functions too."""
    command = shutil.which("lint-imports", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    assert command, "lint-imports is not installed: pip install -r requirements-dev.txt"
    done = subprocess.run([command, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_no_import_cycle_among_the_library_modules():
    graph = import_graph(modules("recognizer"))
    assert len(graph) > 40  # the scan sees the library
    assert "recognizer.reading.recognizer" in graph["recognizer.training.run_files"]  # and the imports in it
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle_through_an_import_inside_a_function():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_library_module_is_over_the_size_limit():
    sizes = {name: len(path.read_text().splitlines()) for name, path in modules("recognizer").items()}
    assert {name: lines for name, lines in sizes.items() if lines > MAX_MODULE_LINES} == {}


def test_the_draw_page_never_reaches_training_or_evaluation():
    """Nothing the Draw page imports, at module level or inside a function, leads to those layers."""
    known = {**modules("recognizer", "app_pages"), "app": ROOT / "app.py"}
    graph = import_graph(known)
    reached = reachable(graph, DRAW_PAGE)
    assert "recognizer.reading.recognizer" in reached  # the scan follows the model's load
    heavy = sorted(m for m in reached if m.startswith(("recognizer.training", "recognizer.evaluation")))
    assert heavy == []


def test_every_import_of_the_project_names_a_module_that_exists():
    """A module moved or renamed leaves no import behind, not even one inside a function."""
    import ast

    known = {**modules("recognizer", "benchmarks", "app_pages", "tests"), "app": ROOT / "app.py"}
    ours = ("recognizer", "benchmarks", "app_pages")
    packages = {name.rsplit(".", i)[0] for name in known for i in range(1, name.count(".") + 1)}
    stale = []
    for name, path in known.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").startswith(ours):
                wanted = [node.module]
            elif isinstance(node, ast.Import):
                wanted = [alias.name for alias in node.names if alias.name.startswith(ours)]
            else:
                continue
            stale += [(name, module) for module in wanted if module not in known and module not in packages]
    assert stale == []


def test_benchmarks_stay_outside_the_library():
    graph = import_graph({**modules("recognizer"), **modules("benchmarks")})
    library = [name for name in graph if name.startswith("recognizer")]
    assert not [(name, sorted(graph[name])) for name in library if any(m.startswith("benchmarks") for m in graph[name])]
    assert module_name(ROOT / "benchmarks" / "run.py") in graph
