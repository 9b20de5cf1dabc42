"""Fault tests print one line each: what they injected and what they checked.

Run with `-s` (or read the captured output) to collect the figures.
"""


def report(fault: str, **figures) -> None:
    print(f"\nFAULT {fault}: " + ", ".join(f"{k}={v}" for k, v in figures.items()), flush=True)
