"""Print mutmut's verdicts as a score table per module (read from `mutmut results`).

Usage: mutmut results --all true | python scripts/mutation_report.py MODULE...

A MODULE is a package folder (`contracts`) or a file (`sync_worker/upstream.py`).
Score = (killed + timeout) / mutants: a mutant with no covering test counts as
surviving. The table is a measure, not a gate: the exit status is 0 whatever
the scores (1 only when the input cannot be read).
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterable

# "    contracts.codec.x_decode__mutmut_3: killed" and, for methods,
# "    contracts.topology.xǁTopologyǁ_name__mutmut_1: survived".
_LINE: Final = re.compile(
    r"^\s*(?P<module>[\w.]+?)\.x[_ǁ]\S*__mutmut_\d+: (?P<status>.+)$"
)
DETECTED: Final = ("killed", "timeout", "caught by type check")
COLUMNS: Final = ("killed", "survived", "no tests", "timeout")
TARGET: Final = 85.0


@dataclass
class Row:
    """Verdict counts of one module or package."""

    name: str
    statuses: Counter[str] = field(default_factory=Counter)
    survivors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Mutants generated."""
        return sum(self.statuses.values())

    @property
    def score(self) -> float:
        """Percentage of mutants the tests detect."""
        detected = sum(self.statuses[status] for status in DETECTED)
        return 100.0 * detected / self.total if self.total else 0.0


def module_of(target: str) -> str:
    """Dotted module prefix of a target: `sync_worker/upstream.py` → `sync_worker.upstream`."""
    return target.removesuffix(".py").strip("/").replace("/", ".")


def tabulate(lines: Iterable[str], targets: list[str]) -> list[Row]:
    """Count each mutant's status under the first target its module belongs to."""
    rows = [Row(target) for target in targets]
    prefixes = [module_of(target) for target in targets]
    for line in lines:
        match = _LINE.match(line.rstrip("\n"))
        if match is None:
            continue
        module, status = match["module"], match["status"].strip()
        for row, prefix in zip(rows, prefixes, strict=True):
            if module == prefix or module.startswith(prefix + "."):
                row.statuses[status] += 1
                if status not in DETECTED:
                    row.survivors.append(f"{line.strip()}")
                break
    return rows


def render(rows: list[Row]) -> str:
    """The table, then every mutant not detected."""
    width = max([len("module"), *(len(row.name) for row in rows)])
    header = f"{'module':<{width}}  mutants  " + "  ".join(
        f"{column:>8}" for column in COLUMNS
    )
    out = [header + "   score", "-" * (len(header) + 8)]
    for row in rows:
        counts = "  ".join(f"{row.statuses[column]:>8}" for column in COLUMNS)
        other = row.total - sum(row.statuses[column] for column in COLUMNS)
        note = f"  (+{other} other)" if other else ""
        flag = "" if row.score >= TARGET else f"  < {TARGET:.0f}%"
        out.append(
            f"{row.name:<{width}}  {row.total:>7}  {counts}  {row.score:5.1f}%{flag}{note}"
        )
    undetected = [survivor for row in rows for survivor in row.survivors]
    if undetected:
        out += ["", f"not detected ({len(undetected)}; `mutmut show NAME`):"]
        out += [f"  {survivor}" for survivor in undetected]
    return "\n".join(out)


def main(argv: list[str]) -> int:
    """Read `mutmut results --all true` on stdin, print the table for argv's targets."""
    if not argv:
        print(__doc__, file=sys.stderr)
        return 1
    rows = tabulate(sys.stdin, argv)
    if not any(row.total for row in rows):
        print("no mutmut results for these modules; run `make mutation` first")
        return 1
    print(render(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
