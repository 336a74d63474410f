"""Query parameters shared by list routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

PageSize = Annotated[int, Query(ge=1, le=200, description="Items per page (1-200).")]
Cursor = Annotated[str | None, Query(max_length=200, description="Cursor from `next_cursor`.")]
