"""Staff profiles: who a user is, how to reach them, and whether they are away (and who
stands in for them). Read by the notifier to send a reminder to the person a case names."""

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from models.case import AREA_PATTERN
from models.enums import Role

# Plain ASCII classes: the same in Python, in pydantic's Rust engine and in the JSON schema.
EMAIL_PATTERN = r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$"
PHONE_PATTERN = r"^\+?[0-9][0-9 ]{5,19}$"
USER_ID_MAX = 100


def _not_the_system(role: Role) -> Role:
    if role is Role.SYSTEM:
        raise ValueError("the system role belongs to the service itself, not to a person")
    return role


class ProfileFields(BaseModel):
    """What an administrator sets of a profile (PUT /people/{user_id})."""

    model_config = ConfigDict(extra="forbid")
    display_name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=254, pattern=EMAIL_PATTERN)
    phone: str | None = Field(default=None, max_length=20, pattern=PHONE_PATTERN)
    role: Role
    area: str = Field(pattern=AREA_PATTERN)
    active: bool = True

    _role = field_validator("role")(_not_the_system)


class Absence(BaseModel):
    """Away on these days (both included); the deputy gets their messages meanwhile."""

    model_config = ConfigDict(extra="forbid")
    absent_from: date
    absent_to: date
    deputy: str = Field(min_length=1, max_length=USER_ID_MAX,
                        description="The user id of a colleague of the same role and area.")

    @field_validator("absent_to")
    @classmethod
    def _ends_on_or_after_it_starts(cls, absent_to: date, info: ValidationInfo) -> date:
        starts: Any = info.data.get("absent_from")
        if isinstance(starts, date) and absent_to < starts:
            raise ValueError("absent_to must be on or after absent_from")
        return absent_to

    def covers(self, day: date) -> bool:
        return self.absent_from <= day <= self.absent_to


class StaffProfile(ProfileFields):
    """A member of staff, as the API shows them to colleagues of their area."""

    user_id: str = Field(min_length=1, max_length=USER_ID_MAX)
    absence: Absence | None = None
