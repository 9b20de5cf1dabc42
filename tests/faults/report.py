"""Fault, concurrency and fuzz tests print one line each: what they injected and checked.

Run with `-s` (or read the captured output) to collect the figures:
`pytest tests/faults tests/concurrency tests/fuzz -s | grep ^REPORT`.
"""


def report(what: str, **figures) -> None:
    print(f"\nREPORT {what}: " + ", ".join(f"{k}={v}" for k, v in figures.items()), flush=True)
