"""How a reconcile step's SQL file becomes its statements.

Each step runs its file's statements one by one in one transaction (each with the run's parameters, bound by the
server). common-sql splits with sqlparse, which took longer than many of the statements: 1.3 s for publish_marts'
23,000 characters, a quarter of the incremental run's budget. The reconcile's files are written one way (a
statement ends with ``;`` at the end of a line, ``--`` starts a comment, no ``;`` or ``--`` inside a string
literal), so they are split by lines; ``tests/reconcile/test_reconcile_statements.py`` checks that every step's
file, rendered for a rebuild and an incremental run, splits into the statements sqlparse finds.
"""

from __future__ import annotations


def split_statements(text: str) -> list[str]:
    """The statements of ``text`` (comments removed, each with its ``;``), in order."""
    statements: list[str] = []
    lines: list[str] = []
    for line in text.splitlines():
        code = line.split("--", 1)[0].rstrip()
        if code:
            lines.append(code)
        if code.endswith(";"):
            statements.append("\n".join(lines).strip())
            lines = []
    rest = "\n".join(lines).strip()
    if rest:
        statements.append(rest)
    return statements
