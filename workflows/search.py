"""The custom search attributes of a case. They are stored unencrypted: never personal data."""

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
