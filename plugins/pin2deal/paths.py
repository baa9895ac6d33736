"""Where the project's non-Python parts live, wherever ``plugins/`` and ``include/`` are mounted side by side."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(os.environ.get("PIN2DEAL_HOME", Path(__file__).resolve().parents[2]))
SQL_DIR = PROJECT_ROOT / "include" / "sql"
SCHEMA_DIR = SQL_DIR / "schema"
