"""The command-line tools, called through their main() with real arguments, and as installed commands."""

import importlib
import json
import os
import shutil
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
# Each console command and the function it runs, as pyproject.toml declares them.
COMMANDS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def load_script(name):
    """The module behind ``digits-<name>`` (``train`` -> ``recognizer.cli.train``)."""
    command = f"digits-{name.replace('_', '-')}"
    return importlib.import_module(COMMANDS[command].split(":")[0])


def test_train_cli_has_a_flag_for_every_config_field():
    import dataclasses

    from recognizer.training.config import TrainConfig

    parser = load_script("train").build_parser()
    flags = {a.dest for a in parser._actions}
    assert {f.name for f in dataclasses.fields(TrainConfig)} <= flags


def test_train_cli_trains_and_activates(tmp_path, capsys, isolated_user_dirs, mnist, run_cli):  # trains from MNIST
    code = run_cli(
        "train",
        [
            "--architecture", "lenet5", "--epochs", "1", "--train-subset", "300", "--augment", "false",
            "--runs-dir", str(tmp_path), "--name", "cli-run", "--activate",
        ]
    )  # fmt: skip
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "test accuracy:" in out.out
    assert "epoch 1/1" in out.err
    config = json.loads((tmp_path / "cli-run" / "config.json").read_text())
    assert config["augment"] is False and config["train_subset"] == 300
    assert json.loads((isolated_user_dirs / "active.json").read_text())["path"] == str(tmp_path / "cli-run")


def train_cli_config(*argv):
    script = load_script("train")
    return script.config_from_args(script.build_parser().parse_args(list(argv)))


def test_train_cli_preset_gives_its_values_and_flags_given_override_them():
    from recognizer.training.config import TrainConfig

    assert train_cli_config() == TrainConfig()
    assert train_cli_config("--preset", "best") == TrainConfig.preset("best")
    best = train_cli_config("--preset", "best", "--epochs", "2", "--not-digit", "false", "--lr-schedule", "constant")
    assert best == TrainConfig.preset("best", epochs=2, not_digit=False, lr_schedule="constant")
    assert best.canvas_style == 0.5 and best.pen_digits  # what was not given stays the preset's
    assert train_cli_config("--preset", "best", "--train-subset", "500").train_subset == 500
    assert train_cli_config("--preset", "best", "--train-subset", "0").train_subset is None  # 0: all images
    assert train_cli_config("--epochs", "3", "--augment", "false") == TrainConfig(epochs=3, augment=False)


def test_train_cli_refuses_an_unknown_preset_and_checks_the_preset_with_its_flags(capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_script("train").main(["--preset", "fastest"])
    assert exit_info.value.code == 2 and "quick" in capsys.readouterr().err
    assert load_script("train").main(["--preset", "quick", "--epochs", "0"]) == 2
    assert "epochs must be between 1 and 1,000" in capsys.readouterr().err


def test_train_cli_refuses_bad_values_with_a_message(capsys):
    assert load_script("train").main(["--epochs", "0", "--optimizer", "adagrad"]) == 2
    err = capsys.readouterr().err
    assert "epochs" in err and "optimizer" in err


def test_evaluate_cli_reports_accuracy_table_and_confusions(capsys, tmp_path, mnist, run_cli):
    assert run_cli("evaluate", ["--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "test accuracy:" in out and "top confusions" in out
    assert len([line for line in out.splitlines() if line[:5].strip().isdigit()]) == 10
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["num_samples"] == 10000 and report["accuracy"] >= 0.995


def test_evaluate_numbers_cli_gives_the_stress_table_and_each_collection(capsys, tmp_path, pen_path, run_cli):
    assert run_cli("evaluate_numbers", ["--numbers", "2", "--stress", "2", "--json", str(tmp_path / "n.json")]) == 0
    out = capsys.readouterr().out
    assert "| spaced, 4 digits |" in out and "| slant ±15° |" in out and "| all together |" in out
    report = json.loads((tmp_path / "n.json").read_text())
    assert set(report["stress"]) == {"spaced", "touching"} and len(report["stress"]["touching"]) == 10
    assert len(report["collections"]) == 4
    assert sum(c["digits"] for c in report["collections"].values()) == report["not_digit"]["digits"]


def test_predict_cli_writes_kaggle_submission(tmp_path, capsys, mnist, run_cli):
    _, (x_test, y_test) = mnist
    images, labels = x_test[:50], y_test[:50]
    test_csv = tmp_path / "test.csv"
    header = ",".join(f"pixel{i}" for i in range(784))
    np.savetxt(test_csv, images.reshape(50, -1), fmt="%d", delimiter=",", header=header, comments="")
    out_csv = tmp_path / "submission.csv"
    assert run_cli("predict", ["--csv", str(test_csv), "--out", str(out_csv)]) == 0
    lines = out_csv.read_text().splitlines()
    assert lines[0] == "ImageId,Label"
    assert [int(line.split(",")[0]) for line in lines[1:]] == list(range(1, 51))
    predicted = np.array([int(line.split(",")[1]) for line in lines[1:]])
    assert np.mean(predicted == labels) >= 0.96


def test_predict_cli_explains_a_bad_csv(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,c\n1,2,3\n")
    assert load_script("predict").main(["--csv", str(bad), "--out", str(tmp_path / "o.csv")]) == 1
    assert "784" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize("script", ["train", "evaluate", "predict", "benchmark", "compare", "export"])
def test_scripts_have_help(script, capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_script(script).main(["--help"])
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def installed_command(name: str) -> str:
    """The console command ``name`` that ``pip install -e .`` put beside this Python."""
    found = shutil.which(name, path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    assert found, f"{name} is not installed: pip install -e . (the README's commands do)"
    return found


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_console_command_answers_help_from_another_folder(command, tmp_path, python_process):
    """Each installed command finds the library from any folder, without a path set up for it."""
    done = python_process([installed_command(command), "--help"], cwd=tmp_path)
    assert f"usage: {command}" in done.stdout


def test_the_library_reads_a_drawn_one_from_another_folder(tmp_path, python_process):
    """``load_recognizer()`` finds the shipped model wherever Python runs, as an installed library."""
    script = (
        "import numpy as np, cv2\n"
        "from recognizer import load_recognizer\n"
        "canvas = np.zeros((280, 280, 4), np.uint8)\n"
        "cv2.line(canvas, (140, 50), (140, 230), (0, 0, 0, 255), 18)\n"
        "print(load_recognizer(number_reader=False).predict_drawing(canvas).digit)\n"
    )
    done = python_process([sys.executable, "-c", script], cwd=tmp_path)
    assert done.stdout.strip().splitlines()[-1] == "1"


def test_compare_cli_tables_runs_and_builds_an_ensemble(tiny_run, tmp_path, capsys, run_cli):
    import shutil

    other = tmp_path / "tiny-copy"
    shutil.copytree(tiny_run, other)
    code = run_cli(
        "compare",
        [
            str(tiny_run),
            str(other),
            "--ensemble",
            "pair",
            "--ensemble-dir",
            str(tmp_path / "out"),
            "--latency-calls",
            "5",
        ],
    )
    out = capsys.readouterr().out
    assert code == 0
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [r.split("|")[1].strip() for r in rows] == ["tiny-lenet5", "tiny-copy", "pair"]
    assert "ensemble" in rows[2]
    assert (tmp_path / "out" / "pair" / "model.keras").is_file()


def test_compare_cli_explains_a_missing_run(tmp_path, capsys):
    assert load_script("compare").main([str(tmp_path / "nope"), "--latency-calls", "5"]) == 1
    assert "error:" in capsys.readouterr().err


def test_export_cli_writes_every_format_and_its_table(tiny_run, tmp_path, capsys, run_cli):
    out = tmp_path / "exported"
    args = ["--model", str(tiny_run), "--out", str(out), "--json", str(tmp_path / "e.json")]
    args += ["--test-images", "200", "--calibration", "50", "--latency-calls", "5"]
    assert run_cli("export", args) == 0
    printed = capsys.readouterr().out
    rows = json.loads((tmp_path / "e.json").read_text())["formats"]
    assert [r["format"] for r in rows] == ["SavedModel (TF Serving)", "TFLite float32", "TFLite float16", "TFLite int8"]
    assert all(f"| {r['format']} |" in printed for r in rows)
    assert (out / "saved_model" / "saved_model.pb").is_file() and (out / "model_int8.tflite").is_file()
    assert abs(rows[1]["accuracy_delta"]) < 0.01  # float32 TFLite answers as Keras does


def _at(figures: dict, path: str):
    for key in path.split("."):
        figures = figures[key]
    return figures


BENCHMARK_FIGURES = {
    "library": ["predict_drawing.p50_ms", "predict_drawing.p95_ms", "predict_drawing_keras.p50_ms"]
    + ["read_number_700.p50_ms", "predict_proba_batch.images_per_second"]
    + ["inside_the_network.activations_ms", "inside_the_network.tiles_ms"],
    "browser": [
        f"pen_to_answer.{when}.{page}.{kind}.{stat}"
        for when in ("idle", "while_training")
        for page in ("app", "bare")
        for kind in ("single", "multi")
        for stat in ("median_ms", "p95_ms")
    ]
    + ["pen_to_answer.idle.ratio.single", "pen_to_answer.while_training.ratio.multi"]
    + ["cold_start.app.canvas_interactive_s", "cold_start.app.first_answer_s", "cold_start.bare.canvas_interactive_s"]
    + ["cold_start.bare.first_answer_s", "cold_start.ratio.first_answer_s", "cold_start.ratio.canvas_interactive_s"]
    + ["cold_start.app.answer_after_canvas_s", "cold_start.ratio.answer_after_canvas_s"]
    + ["cold_start.app.busy_after_answer_ms", "cold_start.bare.busy_after_answer_ms"]
    + ["server_memory.app_peak_mb", "server_memory.bare_peak_mb", "server_memory.after_drawings"]
    + ["inside_the_network_page.settled_ms"],
    "training": [f"training_speed.{r}.{k}" for r in ("fastest_preset", "keras_io") for k in ("seconds", "reached")]
    + ["training_speed.ratio", "curve_overhead.ratio", "curve_overhead.point_us", "curve_overhead.points"],
}


@pytest.mark.browser  # it starts Chromium, two servers and a training job
def test_benchmark_quick_run_gives_every_figure_or_says_why_not(tmp_path, capsys, run_cli):
    """A smoke run of every part (no timing is checked: speed is the benchmark's to report)."""
    module = load_script("benchmark")
    assert run_cli("benchmark", ["--quick", "--out", str(tmp_path / "b.json")]) == 0
    figures = json.loads((tmp_path / "b.json").read_text())
    assert json.loads(capsys.readouterr().out) == figures
    assert figures["quick"] is True
    for part, paths in BENCHMARK_FIGURES.items():
        if part in figures["skipped"]:
            assert figures["skipped"][part], part  # a reason, not just a gap
            continue
        for path in paths:
            _at(figures, path)  # KeyError names a missing figure
    assert set(figures["targets"]) == set(module.TARGETS)
