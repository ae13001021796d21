"""``python -m tests.es_rest``: replay every section, print a line per folder and the totals.

The last line reads ``es-rest P passed, S skipped, F failed of T sections``; ``-v`` also prints
each failed section with its reason. The exit status is 1 when a section failed.
"""

from __future__ import annotations

import sys
from collections import Counter

from .replay import replay
from .suite import available, sections


def main(argv: list[str]) -> int:
    """Run the suite and print the report."""
    if not available():
        print("es-rest: ../shared/es-rest-tests is not present", file=sys.stderr)
        return 2
    verbose = "-v" in argv
    wanted = [a for a in argv if not a.startswith("-")]
    per_folder: dict[str, Counter[str]] = {}
    failures: list[str] = []
    with replay() as session:
        for section in sections():
            if wanted and not any(w in section.id for w in wanted):
                continue
            outcome = session.outcome(section)
            per_folder.setdefault(section.folder, Counter())[outcome.status] += 1
            if outcome.status == "failed":
                failures.append(f"FAILED {section.id}: {outcome.message}")
    totals: Counter[str] = Counter()
    for folder, counts in per_folder.items():
        totals.update(counts)
        total = sum(counts.values())
        print(
            f"{folder}: {counts['passed']} passed, {counts['skipped']} skipped, "
            f"{counts['failed']} failed of {total}"
        )
    if verbose:
        for line in failures:
            print(line)
    print(
        f"es-rest {totals['passed']} passed, {totals['skipped']} skipped, {totals['failed']} failed "
        f"of {sum(totals.values())} sections"
    )
    return 1 if totals["failed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
