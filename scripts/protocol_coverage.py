"""Prints the README's "Protocol coverage" table: each rule of protocol-rules.md, where the
code enforces it, and the tests that cite it. Run: .venv/bin/python scripts/protocol_coverage.py"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workflows import deadlines, guards  # noqa: E402
from workflows.lifecycle import LIFECYCLE  # noqa: E402

RULES = ROOT.parent / "shared" / "design" / "protocol-rules.md"
# Rules enforced outside the guard, deadline and lifecycle tables.
ELSEWHERE = {
    "P3.8": ["`activities/linking.py`", "`CaseWorkflow._search_linked_cases`"],
    "P4.6": ["`effects.link_cases` (history of linked cases)"],
    "P4.1": ["`workflows/spoc_contact.py`", "`core/schedules.py`"],
    "P6.4": ["`activities/notify.py:route`"],
    "P9.5": ["`CaseWorkflow._after_action` (opens the linked case)",
             "a stalking protection order's breach by analogy (`report_stalking_protection_order_"
             "breach`, SPA 2019 s.8): the same linked case and deadline"],
    "G.2": ["`models/offences.py:most_serious_first`"],
}


def rule_rows(text: str) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for rule, kind in re.findall(r"^\| (P\d+\.\d+|G\.\d+) \| ([A-Z /]+) \|", text, re.M):
        kinds = rows.setdefault(rule, [])
        kinds += [k.strip() for k in kind.split("/") if k.strip() not in kinds]
    return rows


def key(rule: str) -> str:
    return rule.lower().replace(".", "_")


def enforced_in(rule: str) -> list[str]:
    places = [f"guard `{name}`" for name in dir(guards) if name.startswith(key(rule) + "_")]
    places += [f"deadline `{fn.__name__}`" for fn in deadlines.RULES
               if (fn.__doc__ or "").startswith(rule + ":") or f" {rule} " in (fn.__doc__ or "")
               or (fn.__doc__ or "").startswith(rule + " ")]
    actions = [kind for kind, spec in LIFECYCLE.items() if rule in spec.rules]
    if actions:
        places.append("recorded by " + ", ".join(f"`{a}`" for a in actions[:3]))
    return places + ELSEWHERE.get(rule, [])


def tests_citing(rule: str) -> list[str]:
    found: list[str] = []
    timers = (ROOT / "tests" / "test_deadlines.py").read_text()
    if re.search(rf'^    \("{re.escape(rule)}", "', timers, re.M):
        found.append(f"`test_deadlines.py::test_timer_rule_opens_reminds_escalates_and_closes[{rule}]`")
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        for name in re.findall(r"^(?:async )?def (test_\w+)", path.read_text(), re.M):
            if re.search(rf"{key(rule)}(?:[^0-9]|$)", name):
                found.append(f"`{path.name}::{name}`")
    return found[:3]


def main() -> int:
    print("| rule | kind | enforced in | proved by |")
    print("|---|---|---|---|")
    for rule, kinds in rule_rows(RULES.read_text()).items():
        where = "; ".join(enforced_in(rule)) or "not yet"
        tests = "<br>".join(tests_citing(rule)) or "not yet"
        print(f"| {rule} | {' / '.join(kinds)} | {where} | {tests} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
