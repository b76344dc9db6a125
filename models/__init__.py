"""Types that cross the workflow boundary (pydantic) and, in `tables`, the read model (SQLModel)."""
