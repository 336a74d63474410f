"""The `/sandbox` router: self-service sign-up, test customers, the browserless consent step.

The router only parses and shapes; the gateway injects a `SandboxPort` that does the work
(registration, completing the authorization) and tells who is calling (the gateway's pipeline
has authenticated the request before the route runs). Its answers carry credentials, so
each route is declared never to be stored. The sandbox imports nothing of the gateway: its
validators name pydantic error types (`control_characters`, `email_address`) that the gateway
words for people.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, Body, Depends, Path, Request
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    with_config,
)
from pydantic.config import JsonDict
from pydantic_core import PydanticCustomError
from starlette.responses import Response
from typing_extensions import TypedDict


class Declare(Protocol):
    """Names a route's API product in the gateway's catalogue (`gateway.http.routing.product`)."""

    def __call__(
        self, name: str, *, problems: list[int] | None = None, no_store: bool = False
    ) -> dict[str, Any]: ...


# Control characters (NUL, line breaks, tabs, ...), lone surrogates, line and paragraph
# separators and bidirectional overrides: text that databases refuse or that displays deceptively.
CONTROL_CHARACTERS = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
DOMAIN = re.compile(r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]{1,62}$")

# pydantic error types the gateway translates for people (gateway.http.validation).
CONTROL_CHARACTERS_ERROR = "control_characters"
EMAIL_ERROR = "email_address"
NOTHING_TO_ADVANCE_ERROR = "nothing_to_advance"


def has_control_characters(value: object) -> bool:
    """True if `value` (a string, or a list of them) holds a character `CONTROL_CHARACTERS`
    refuses."""
    if isinstance(value, str):
        return CONTROL_CHARACTERS.search(value) is not None
    if isinstance(value, list | tuple):
        return any(has_control_characters(item) for item in value)
    return False


class _Body(BaseModel):
    """A request body: no unknown fields, and no control characters in any text."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _plain_text(cls, value: Any) -> Any:
        if has_control_characters(value):
            raise PydanticCustomError(
                CONTROL_CHARACTERS_ERROR, "text must not contain control characters"
            )
        return value


def _email_address(value: str) -> str:
    local, at, domain = value.rpartition("@")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_domain = ""
    if not (
        at
        and len(local) <= 64
        and LOCAL_PART.match(local)
        and len(ascii_domain) <= 253
        and DOMAIN.match(ascii_domain)
    ):
        raise PydanticCustomError(EMAIL_ERROR, "not an e-mail address")
    return value


EmailAddress = Annotated[
    str,
    Field(max_length=254, examples=["it@school.example"], json_schema_extra={"format": "email"}),
    AfterValidator(_email_address),
]
RedirectUri = Annotated[str, Field(min_length=1, max_length=2000)]
AccountId = Annotated[str, Field(min_length=1, max_length=64)]


class SignupRequest(_Body):
    """A scene partner signing up for the sandbox."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    partner_name: str = Field(min_length=1, max_length=200, examples=["阳光小学 Sunshine School"])
    sector: Literal["government", "school", "hospital", "transport", "other"]
    contact_email: EmailAddress
    redirect_uris: list[RedirectUri] | None = Field(
        default=None,
        max_length=5,
        description="Registered redirect URIs: https, or http on a loopback address, without a "
        "fragment (default: http://127.0.0.1/callback).",
    )


_CUSTOMER: JsonDict = {
    "username": "zhang.wei",
    "name": "张伟",
    "risk_tolerance": "C3",
    "kyc_status": "Verified",
    "password": "sandbox",
    "one_time_code": "123456",
}


def _closed(*examples: JsonDict) -> ConfigDict:
    extra: JsonDict = {"examples": [*examples]}
    return ConfigDict(extra="forbid", json_schema_extra=extra)


@with_config(_closed(_CUSTOMER))
class TestCustomer(TypedDict):
    """A synthetic customer of the partner's sandbox world, with their test credentials."""

    username: str
    name: str
    risk_tolerance: Annotated[str, Field(pattern=r"^C[1-5]$")]
    kyc_status: str
    password: str
    one_time_code: str


@with_config(
    _closed(
        {
            "partner_id": "ptn_4kq7mz2n3v5w6x7y2a3b",
            "client_id": "cli_4kq7mz2n3v5w6x7y",
            "client_secret": "Jx7uQw0m3a5n2b8c4d6e9f1g0h2i4j6k8l0m2n4o6p8",
            "token_endpoint_auth_method": "client_secret_basic",
            "scopes": ["products", "consents", "collections", "events", "accounts"],
            "redirect_uris": ["http://127.0.0.1/callback"],
            "issuer": "http://127.0.0.1:8000",
            "token_endpoint": "http://127.0.0.1:8000/oauth/token",
            "customers": [_CUSTOMER],
        }
    )
)
class SignupResponse(TypedDict):
    """The new partner, its client credentials (the secret is shown once) and customers."""

    partner_id: str
    client_id: str
    client_secret: str
    token_endpoint_auth_method: str
    scopes: list[str]
    redirect_uris: list[str]
    issuer: str
    token_endpoint: str
    customers: list[TestCustomer]


@with_config(_closed({"data": [_CUSTOMER], "next_cursor": None}))
class CustomerList(TypedDict):
    data: list[TestCustomer]
    next_cursor: None


class AuthorizeRequest(_Body):
    """The customer's decision on a pushed authorization request, without a browser."""

    request_uri: str = Field(min_length=1, max_length=200)
    customer: str = Field(min_length=1, max_length=64, examples=["zhang.wei"])
    accounts: Literal["all"] | Annotated[list[AccountId], Field(max_length=50)] = Field(
        default="all",
        description="`all`, or the account ids the customer selects. A payment consent is "
        "authorised for exactly one account, the debtor account: name one id, or `all` for the "
        "customer's first enabled account (their first account when none is enabled).",
    )
    decision: Literal["approve", "deny"] = "approve"


@with_config(
    _closed(
        {
            "redirect_to": "http://127.0.0.1/callback?code=SplxlOBeZQQYbYS6WxSbIA"
            "&iss=http%3A%2F%2F127.0.0.1%3A8000&state=af0ifjsldkj"
        }
    )
)
class AuthorizeResponse(TypedDict):
    redirect_to: Annotated[
        str,
        Field(description="Where the browser would go: the redirect URI with code, state and iss."),
    ]


class ClockAdvance(_Body):
    """How far to move the partner's virtual clock (forward only; at least one hour)."""

    days: int = Field(default=0, ge=0, le=366, examples=[1])
    hours: int = Field(default=0, ge=0, le=24 * 366, examples=[0], validate_default=True)

    @field_validator("hours")
    @classmethod
    def _something(cls, hours: int, info: ValidationInfo) -> int:
        if hours == 0 and info.data.get("days", 0) == 0:
            raise PydanticCustomError(NOTHING_TO_ADVANCE_ERROR, "advance by at least one hour")
        return hours


@with_config(
    _closed(
        {
            "now": "2026-11-29T02:00:00Z",
            "settled_payments": 1,
            "expired_consents": 0,
            "expired_bills": 3,
            "settled_bills": 0,
        }
    )
)
class ClockAdvanced(TypedDict):
    """The partner's new virtual time and what it set in motion."""

    now: datetime
    settled_payments: int
    expired_consents: int
    expired_bills: int
    settled_bills: int


@with_config(_closed({"seed": 2, "customers": [_CUSTOMER]}))
class ResetDone(TypedDict):
    """The partner's regenerated world: its seed and its test customers."""

    seed: int
    customers: list[TestCustomer]


class BillPaymentRequest(_Body):
    """How the payer pays the bill at the bank."""

    channel: Literal["counter", "mobile_banking", "atm"] = "mobile_banking"


_PAID_BILL: JsonDict = {
    "bill_id": "bill_m3xq7k2n5v4w6d2f8hjb3c4e",
    "status": "Paid",
    "amount": {"value": "3800.00", "currency": "CNY"},
    "paid_via": "mobile_banking",
    "settled_at": "2026-11-28T03:15:20Z",
    "settles_at": None,
}


_PENDING_BILL: JsonDict = {
    **_PAID_BILL,
    "amount": {"value": "3800.55", "currency": "CNY"},
    "status": "Open",
    "settled_at": None,
    "settles_at": "2026-11-28T04:15:20Z",
}


@with_config(_closed({"value": "3800.00", "currency": "CNY"}))
class BillAmount(TypedDict):
    value: Annotated[str, Field(pattern=r"^(0|[1-9]\d{0,12})\.\d{2}$")]
    currency: str


@with_config(_closed(_PAID_BILL))
class BillPayment(TypedDict):
    """The bill after the payer paid: `Paid`, or still `Open` until `settles_at` (`.55`)."""

    bill_id: str
    status: Literal["Paid", "Open"]
    amount: BillAmount
    paid_via: Literal["counter", "mobile_banking", "atm"]
    settled_at: datetime | None
    settles_at: datetime | None


class SandboxPort(Protocol):
    """What the sandbox routes need from the gateway."""

    async def caller(self, request: Request) -> tuple[str, str]:
        """The authenticated caller's (client_id, partner_id)."""
        ...

    async def signup(self, request: Request, body: SignupRequest) -> SignupResponse: ...

    async def authorize(self, client_id: str, partner_id: str, body: AuthorizeRequest) -> str: ...

    async def customers(self, partner_id: str) -> list[TestCustomer]: ...

    async def advance_clock(self, partner_id: str, by: timedelta) -> ClockAdvanced: ...

    async def reset(self, partner_id: str) -> ResetDone: ...

    async def pay_bill(
        self, request: Request, partner_id: str, bill_id: str, body: BillPaymentRequest
    ) -> Response:
        """A payer pays the partner's bill at a bank channel: `200` Paid, or `202` pending."""
        ...


def build_router(port: SandboxPort, declare: Declare) -> APIRouter:
    """The sandbox routes, bound to the gateway's `SandboxPort`; `declare(product)` names
    each route's API product in the gateway's catalogue."""
    router = APIRouter(prefix="/sandbox", tags=["Sandbox"])
    caller = Depends(port.caller)

    @router.post(
        "/signup",
        status_code=201,
        summary="Create a sandbox partner and client",
        openapi_extra=declare("sandbox.signup", problems=[429], no_store=True),
    )
    async def signup(request: Request, body: Annotated[SignupRequest, Body()]) -> SignupResponse:
        """Self-service sign-up: a partner, a client with every partner-level and customer
        scope (`client_secret_basic`), and three synthetic customers. Limited per address."""
        return await port.signup(request, body)

    @router.get(
        "/customers",
        summary="The partner's synthetic test customers",
        openapi_extra=declare("sandbox.customers.read", no_store=True),
    )
    async def customers(who: tuple[str, str] = caller) -> CustomerList:
        """The test customers of the calling partner's world, with their credentials."""
        return {"data": await port.customers(who[1]), "next_cursor": None}

    @router.post(
        "/authorize",
        summary="Approve or deny a pushed request without a browser",
        openapi_extra=declare("sandbox.authorize", problems=[501, 503, 504], no_store=True),
    )
    async def authorize(
        body: Annotated[AuthorizeRequest, Body()], who: tuple[str, str] = caller
    ) -> AuthorizeResponse:
        """The consent step for automated tests: the named test customer approves (or
        denies) the pushed request; the answer is where the browser would be redirected."""
        return {"redirect_to": await port.authorize(who[0], who[1], body)}

    @router.post(
        "/clock/advance",
        summary="Move your virtual clock forward",
        openapi_extra=declare("sandbox.clock.advance"),
    )
    async def advance_clock(
        body: Annotated[ClockAdvance, Body()], who: tuple[str, str] = caller
    ) -> ClockAdvanced:
        """Your world's clock moves forward by `days` and `hours` (never back): pending
        payments and bank-channel bill payments whose hour has come settle, bills past their
        due date and consents past their expiry expire, and each change writes its event."""
        return await port.advance_clock(who[1], timedelta(days=body.days, hours=body.hours))

    @router.post(
        "/reset",
        summary="Regenerate your synthetic customers' accounts",
        openapi_extra=declare("sandbox.reset", no_store=True),
    )
    async def reset(who: tuple[str, str] = caller) -> ResetDone:
        """A new seed: your test customers get new account numbers, balances and 90 days of
        history, ending at the start of your virtual day; money moved before no longer shows
        and consents already given name accounts that no longer exist. Your clock keeps its
        time; your bills, payments and events stay as they are."""
        return await port.reset(who[1])

    @router.post(
        "/bills/{bill_id}/pay",
        summary="A payer pays a bill at a bank channel",
        openapi_extra=declare("sandbox.bills.pay", problems=[404, 409, 503, 504]),
        response_model=BillPayment,
        responses={
            202: {
                "model": BillPayment,
                "description": "Pending (`.55`): the bill stays Open until `settles_at`.",
                "content": {"application/json": {"example": _PENDING_BILL}},
            }
        },
    )
    async def pay_bill(
        request: Request,
        bill_id: Annotated[str, Path(pattern=r"^bill_[a-z2-7]{1,64}$")],
        body: Annotated[BillPaymentRequest | None, Body()] = None,
        who: tuple[str, str] = caller,
    ) -> Response:
        """A payer pays the bill with its pay code at a counter, an ATM or in mobile banking
        (`channel`, default `mobile_banking`). The cents of the bill's amount choose the
        outcome: `.51` `422 insufficient-funds`, `.52` `422 account-frozen`, `.53`
        `504 core-timeout`, `.54` `503 core-unavailable` (nothing changes for these); `.55`
        `202`, the bill stays Open until the partner's clock passes `settles_at` (one hour);
        any other `200`, Paid now, with a `bill.paid` event. A bill that is not Open is
        `409 bill-not-open`."""
        return await port.pay_bill(request, who[1], bill_id, body or BillPaymentRequest())

    return router
