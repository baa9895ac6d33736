"""Run the benchmarks: every ``bench/bench_*.py`` module's ``main(argv)``, or those named on the command line."""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> None:
    names = sorted(path.stem for path in Path(__file__).parent.glob("bench_*.py"))
    wanted = [arg for arg in argv if not arg.startswith("-")]
    selected = [name for name in names if not wanted or any(word in name for word in wanted)]
    if not selected:
        sys.exit(f"no benchmark matches {wanted}; have: {', '.join(names)}")
    for name in selected:
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        importlib.import_module(f"bench.{name}").main([arg for arg in argv if arg.startswith("-")])
        print(f"== {name}: {time.perf_counter() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
