"""The custom search attributes of a case. They are stored unencrypted: never personal data.

The one list of them: `python -m workflows.search` prints the dev server's flags that register
them (scripts/run-local.sh), and the test processes and the benchmark register ALL_KEYS.
"""

from typing import Any

from temporalio.common import SearchAttributeKey

CASE_STATE = SearchAttributeKey.for_keyword("CaseState")
CASE_AREA = SearchAttributeKey.for_keyword("CaseArea")
STATE_SINCE = SearchAttributeKey.for_datetime("StateSince")
STALKING = SearchAttributeKey.for_bool("Stalking")
NEXT_DEADLINE = SearchAttributeKey.for_datetime("NextDeadline")
OVERDUE = SearchAttributeKey.for_bool("Overdue")

ALL_KEYS: list[SearchAttributeKey[Any]] = [
    CASE_STATE, CASE_AREA, STATE_SINCE, STALKING, NEXT_DEADLINE, OVERDUE,
]


def dev_server_flags() -> list[str]:
    """`temporal server start-dev` flags that register every key."""
    flags = []
    for key in ALL_KEYS:
        flags += ["--search-attribute", f"{key.name}={key._metadata_type}"]
    return flags


if __name__ == "__main__":
    print("\n".join(dev_server_flags()))
