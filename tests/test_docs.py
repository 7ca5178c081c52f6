"""The README stays a front door and every document renders: short, linked, tables well formed."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 250


def table_cells(line: str) -> int:
    """How many cells a Markdown table line has (pipes inside code spans or escaped do not split)."""
    text = re.sub(r"`[^`]*`", "code", line.strip().replace("\\|", ""))
    return len(text.strip("|").split("|"))


def tables(text: str) -> list[list[str]]:
    """Each table of a Markdown text as its lines (a header line followed by a separator line)."""
    lines, found, index = text.splitlines(), [], 0
    separator = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$")
    while index < len(lines) - 1:
        if lines[index].lstrip().startswith("|") and separator.match(lines[index + 1].strip()):
            end = index + 2
            while end < len(lines) and lines[end].lstrip().startswith("|"):
                end += 1
            found.append(lines[index:end])
            index = end
        else:
            index += 1
    return found


def test_the_table_reader_sees_a_separator_with_one_cell_too_many():
    broken = "| a | b |\n| --- | --- | --- |\n| 1 | 2 |\n"
    assert [{table_cells(line) for line in table} for table in tables(broken)] == [{2, 3}]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_table_has_as_many_cells_in_each_line_as_in_its_header(document):
    for table in tables(document.read_text()):
        counts = [table_cells(line) for line in table]
        assert len(set(counts)) == 1, f"{document.name}: {table[0]!r} has rows of {counts} cells"


def test_the_readme_is_a_front_door_whose_links_lead_somewhere():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= README_MAX_LINES
    assert text.split("```")[1].count("pip install -r requirements") == 2  # the two commands come first
    links = re.findall(r"\]\(((?:docs/)?[^)#\s]+)(?:#[^)]*)?\)", text)
    assert len([link for link in links if link.startswith("docs/")]) >= 3
    missing = [link for link in links if not link.startswith("http") and not (ROOT / link).exists()]
    assert missing == []
