"""`make mutation`'s verdict: the share of covered domain mutants the unit tests kill.

Reads mutmut's own summary (mutants/mutmut-cicd-stats.json, written by
`mutmut export-cicd-stats`); fails under the threshold, or when any mutant is
reached by no unit test at all.
"""

import json
import sys
from pathlib import Path

THRESHOLD = 0.95


def main(path: Path = Path("mutants/mutmut-cicd-stats.json")) -> int:
    stats = json.loads(path.read_text())
    covered = stats["total"] - stats["no_tests"] - stats["skipped"]
    # A mutant that makes the tests hang is caught by its timeout: it did not pass.
    killed = stats["killed"] + stats["timeout"]
    share = killed / covered if covered else 0.0
    print(
        f"mutation: {killed} of {covered} covered mutants killed ({share:.1%}; "
        f"{stats['timeout']} by timeout), {stats['survived']} survived, "
        f"{stats['suspicious']} suspicious, {stats['no_tests']} reached by no test"
    )
    if stats["no_tests"]:
        print("mutation: every mutant must be reached by a unit test (`mutmut results`)")
    if share < THRESHOLD:
        print(f"mutation: under {THRESHOLD:.0%}; `mutmut results` lists the survivors")
    return 0 if share >= THRESHOLD and not stats["no_tests"] else 1


if __name__ == "__main__":
    sys.exit(main())
