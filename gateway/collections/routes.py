"""Collections (A2): partners issue bills, follow their status, and reconcile each day."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query
from starlette.responses import Response

from adapters.contract import Money as CoreMoney
from gateway.collections.models import BillStatus
from gateway.collections.schemas import (
    CSV_EXAMPLE,
    BillIdPattern,
    BillOut,
    BillPage,
    BillRequest,
    CalendarDate,
    StatementOut,
    bill_out,
    statement_out,
)
from gateway.collections.statement import CSV_MEDIA_TYPE, DIGEST_HEADER
from gateway.deps import Call, CallRoute
from gateway.errors import NotAcceptableError
from gateway.http.negotiation import choose
from gateway.http.params import Cursor, PageSize
from gateway.http.responses import JsonResponse
from gateway.http.routing import product
from gateway.idempotency import answer
from policies.messages import Text

router = APIRouter(prefix="/v1/collections", tags=["Collections"], route_class=CallRoute)
BillId = Annotated[str, Path(pattern=BillIdPattern, description="A bill id")]
JSON, CSV = "application/json", "text/csv"
NOT_ACCEPTABLE = Text(
    "A statement is available as application/json or text/csv: ask for one of them in Accept.",
    "对账单提供 application/json 或 text/csv 两种格式：请在 Accept 中指定其一。",
)
DIGEST_DESCRIPTION = (
    "`sha-256=<hex>`: the SHA-256 of the statement's CSV, as in `digest`. Hash the body of "
    "`Accept: text/csv` and compare."
)
STATEMENT_DESCRIPTION = """\
Every bill settled on `date` (a China business day, UTC+8), in settlement order
(`settled_at`, then `bill_id`), with a count and exact total per category and overall.
`status` is `closed` once the day is over for the partner — the statement never changes
again — and `open` for today; a day still to come is `422`.

**Digest.** `digest` is the hex SHA-256 of the statement's CSV, exactly as `Accept: text/csv`
returns it: UTF-8 without a BOM, RFC 4180 with `\\r\\n` line ends, the header line
`bill_id,payer_reference,category,amount,channel,payment_id,settled_at`, then one line per
item; amounts with two fraction digits (`3800.00`), an empty `payment_id` for bank-channel
payments, times in RFC 3339 UTC with `Z`. Both representations carry
`Statement-Digest: sha-256=<hex>`: hash the CSV body you received and compare.
"""


@router.post(
    "/bills",
    status_code=201,
    summary="Issue a bill",
    openapi_extra=product("collections.bills.create", problems=[409]),
    response_model=BillOut,
    response_description="The bill, Open, with its pay code.",
)
async def create_bill(call: Call, body: Annotated[BillRequest, Body()]) -> Response:
    """Issue a bill for a payer to pay, by a customer payment (`bill_id` in
    `POST /v1/payments`) or at a bank channel with its `pay_code`. Requires an
    `Idempotency-Key`: a retry with the same key and body gets the same bill."""
    services = call.services
    await services.bills.check_due_date(call.partner_id, body.due_date)
    async with services.db.transaction() as uow:
        bill = await services.bills.create(
            uow,
            partner_id=call.partner_id,
            category=body.category,
            payer_reference=body.payer_reference,
            payer_name=body.payer_name,
            description=body.description,
            amount=CoreMoney.of_cents(_cents(body.amount.value), body.amount.currency),
            due_date=body.due_date,
        )
        return await answer(
            services.idempotency,
            uow,
            call.exchange,
            201,
            bill_out(bill),
            {"Location": f"/v1/collections/bills/{bill.id}"},
        )


def _cents(value: str) -> int:
    """A validated amount string ("3800.00") in cents, without a float on the way."""
    whole, _, fraction = value.partition(".")
    return int(whole) * 100 + int(fraction)


@router.get(
    "/bills",
    summary="The partner's bills",
    openapi_extra=product("collections.bills.list"),
    response_model=BillPage,
)
async def list_bills(
    call: Call,
    status: Annotated[BillStatus | None, Query(description="Only bills in this status.")] = None,
    page_size: PageSize = 50,
    cursor: Cursor = None,
) -> Response:
    """The partner's bills, newest first; pass `next_cursor` as `cursor` for the next page."""
    found, next_cursor = await call.services.bills.page(
        call.partner_id, status=status, page_size=page_size, cursor=cursor
    )
    page: BillPage = {"data": [bill_out(b) for b in found], "next_cursor": next_cursor}
    return JsonResponse(page)


@router.get(
    "/bills/{bill_id}",
    summary="A bill and its status",
    openapi_extra=product("collections.bills.read", problems=[404]),
    response_model=BillOut,
)
async def get_bill(call: Call, bill_id: BillId) -> Response:
    """One of the partner's bills, with its current status."""
    return JsonResponse(bill_out(await call.services.bills.get(call.partner_id, bill_id)))


@router.post(
    "/bills/{bill_id}/cancel",
    summary="Cancel an open bill",
    openapi_extra=product("collections.bills.cancel", problems=[404, 409]),
    response_model=BillOut,
)
async def cancel_bill(call: Call, bill_id: BillId) -> Response:
    """Cancel an Open bill: it can no longer be paid, and a `bill.cancelled` event is
    written. Cancelling a Cancelled bill answers it again; a Paid or Expired bill is
    `409 bill-not-open`, a bill with a pending payment `409 bill-payment-pending`."""
    services = call.services
    async with services.db.transaction() as uow:
        bill = await services.bills.cancel(uow, call.partner_id, bill_id)
        return await answer(services.idempotency, uow, call.exchange, 200, bill_out(bill))


@router.get(
    "/statements/{date}",
    summary="The daily statement of settled bills",
    description=STATEMENT_DESCRIPTION,
    openapi_extra=product("collections.statements.read", problems=[406]),
    response_model=StatementOut,
    responses={
        200: {
            "description": "The statement, as JSON or (with `Accept: text/csv`) as CSV.",
            "content": {CSV: {"schema": {"type": "string"}, "example": CSV_EXAMPLE}},
            "headers": {
                DIGEST_HEADER: {"description": DIGEST_DESCRIPTION, "schema": {"type": "string"}}
            },
        }
    },
)
async def get_statement(
    call: Call,
    day: Annotated[
        CalendarDate, Path(alias="date", description="A China business day, YYYY-MM-DD.")
    ],
) -> Response:
    chosen = choose(call.headers.get("accept"), (JSON, CSV))
    if chosen is None:
        raise NotAcceptableError(NOT_ACCEPTABLE)
    statement = await call.services.bills.statement(call.partner_id, day)
    headers = {DIGEST_HEADER: f"sha-256={statement.digest}", "Vary": "Accept"}
    if chosen == CSV:
        return Response(statement.csv, 200, headers, media_type=CSV_MEDIA_TYPE)
    return JsonResponse(statement_out(statement), headers=headers)
