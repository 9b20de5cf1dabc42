"""Benchmarks: the engine measured against the best the same machine does in the same run.

`python -m bench` (`make bench`) writes bench/results/<timestamp>.md and .json;
`python -m bench --quick` (`make bench BENCH_QUICK=1`) is the reduced check.
"""
