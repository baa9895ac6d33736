"""docs/reliability.md shows the suite's own tables (fault matrix, bad-input cases): they cannot drift apart.
``python -m tests.reliability.test_reliability_doc`` rewrites the generated parts after a table changes."""

from __future__ import annotations

import ast
import re

from tests.conftest import ROOT
from tests.reliability import bad_input, matrix

DOC = ROOT / "docs" / "reliability.md"
SECTIONS = {
    "summary": matrix.render_summary,
    "fault-matrix": matrix.render_markdown,
    "bad-input": bad_input.render_markdown,
}


def _section(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- generated: {name} -->\n)(.*?)(<!-- end: {name} -->)", re.S)


def rendered(text: str) -> str:
    for name, render in SECTIONS.items():
        text = _section(name).sub(lambda match, render=render: match[1] + render() + "\n" + match[3], text)
    return text


def test_the_doc_shows_the_tables_the_tests_run() -> None:
    text = DOC.read_text(encoding="utf-8")
    for name in SECTIONS:
        assert _section(name).search(text), f"docs/reliability.md lacks the generated section {name!r}"
    assert rendered(text) == text, "docs/reliability.md is stale: python -m tests.reliability.test_reliability_doc"
    assert len(bad_input.CASES) >= 60


def test_every_test_the_matrix_names_exists() -> None:
    for row in matrix.ROWS:
        for ref in row.proven_by:
            path, name = ref.split("::")
            tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
            names = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
            assert name in names, f"{row.fault}: {ref} does not exist"


if __name__ == "__main__":
    DOC.write_text(rendered(DOC.read_text(encoding="utf-8")), encoding="utf-8")
