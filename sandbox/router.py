"""The `/sandbox` router: self-service sign-up and the browserless consent step.

The router only parses and shapes; the gateway injects a `SandboxPort` that does the work
(client authentication, registration, completing the authorization).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ConfigDict, Field


class SignupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    partner_name: str = Field(min_length=1, max_length=200, examples=["阳光小学 Sunshine School"])
    sector: Literal["government", "school", "hospital", "transport", "other"]
    contact_email: str = Field(pattern=r"^[^@\s]{1,64}@[^@\s]{1,255}$", max_length=320)
    redirect_uris: list[str] | None = Field(default=None, max_length=5)


class AuthorizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_uri: str = Field(min_length=1, max_length=200)
    customer: str = Field(min_length=1, max_length=64, examples=["zhang.wei"])
    accounts: Literal["all"] | list[str] = "all"
    decision: Literal["approve", "deny"] = "approve"


class SandboxPort(Protocol):
    """What the sandbox routes need from the gateway."""

    async def authenticate(self, request: Request) -> tuple[str, str]:
        """The calling client's (client_id, partner_id); raises a 401 problem otherwise."""
        ...

    async def signup(self, request: Request, body: SignupRequest) -> dict[str, Any]: ...

    async def authorize(self, client_id: str, partner_id: str, body: AuthorizeRequest) -> str: ...

    def customers(self, partner_id: str) -> list[dict[str, Any]]: ...


def build_router(port: SandboxPort) -> APIRouter:
    """The sandbox routes, bound to the gateway's implementation of `SandboxPort`."""
    router = APIRouter(prefix="/sandbox", tags=["Sandbox"])

    async def caller(request: Request) -> tuple[str, str]:
        return await port.authenticate(request)

    who_calls = Depends(caller)

    @router.post("/signup", status_code=201, summary="Create a sandbox partner and client")
    async def signup(request: Request, body: Annotated[SignupRequest, Body()]) -> dict[str, Any]:
        return await port.signup(request, body)

    @router.get("/customers", summary="The partner's synthetic test customers")
    async def customers(who: tuple[str, str] = who_calls) -> dict[str, Any]:
        return {"data": port.customers(who[1]), "next_cursor": None}

    @router.post("/authorize", summary="Approve or deny a pushed request without a browser")
    async def authorize(
        body: Annotated[AuthorizeRequest, Body()], who: tuple[str, str] = who_calls
    ) -> dict[str, str]:
        return {"redirect_to": await port.authorize(who[0], who[1], body)}

    return router
