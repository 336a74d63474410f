"""Responses built from typed models, serialised once by pydantic-core.

A route that returns a model lets FastAPI validate it again and serialise it through its
generic path; a `ModelResponse` serialises the model it is given straight to bytes. Routes
that use it declare `response_model=` for the API description.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel
from starlette.responses import Response


class ModelResponse(Response):
    """`model` as `application/json`."""

    media_type = "application/json"

    def __init__(
        self, model: BaseModel, status_code: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(model.__pydantic_serializer__.to_json(model), status_code, headers)
