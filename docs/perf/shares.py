"""Inclusive and self shares of a py-spy profile's busy samples.

    python docs/perf/shares.py docs/perf/before-storm-intake.collapsed.gz [top]

Reads py-spy's ``--format raw`` output (collapsed stacks, ``frame;frame;... count``, gzipped or
not); samples whose innermost frame is a wait (a thread parked on a condition, the event loop's
``select``) are left out, so the shares are of the time the process was busy.
"""

from __future__ import annotations

import gzip
import re
import sys
from collections import Counter
from pathlib import Path

IDLE = ("Condition.wait", "select (selectors.py)", "_worker (concurrent", "EpollSelector.select")
FRAME = re.compile(r"^(.*) \((.*?)(?::\d+)?\)$")


def shares(path: Path) -> tuple[int, Counter[str], Counter[str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    busy = 0
    with opener(path, "rt") as lines:
        for line in lines:
            stack, _, count = line.rstrip().rpartition(" ")
            names = []
            for frame in stack.split(";"):
                found = FRAME.match(frame)
                names.append(f"{found[1]} ({found[2]})" if found else frame)
            if not names or names[-1].startswith(IDLE):
                continue
            n = int(count)
            busy += n
            inclusive.update(dict.fromkeys(set(names), n))
            own[names[-1]] += n
    return busy, inclusive, own


def main() -> None:
    path, top = Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 40
    busy, inclusive, own = shares(path)
    lines = [f"{busy} busy samples", "-- inclusive"]
    lines += [f"{100 * n / busy:5.1f}% {name}" for name, n in inclusive.most_common(top)]
    lines += ["-- self"]
    lines += [f"{100 * n / busy:5.1f}% {name}" for name, n in own.most_common(top // 2)]
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
