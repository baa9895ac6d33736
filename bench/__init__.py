"""Benchmarks: ``make bench`` (all) or ``make bench BENCH_ARGS=NAME`` (those whose module name contains NAME)."""
