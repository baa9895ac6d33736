"""Whole-briefing golden files: the expected text lives in tests/briefing/golden/*.md, read by eye when written.

``PIN2DEAL_UPDATE_GOLDEN=1`` rewrites a golden file from the current output (then read the diff before committing).
"""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN_DIR / f"{name}.md"
    if os.environ.get("PIN2DEAL_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path}: run with PIN2DEAL_UPDATE_GOLDEN=1 and read it before committing"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"briefing differs from {path}:\n{text}"
