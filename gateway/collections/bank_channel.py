"""A payer pays a bill at the sandbox bank's counter, ATM or mobile banking.

The magic cents of the bill's amount (`sandbox.magic`) choose what the bank does: refuse
(`.51`, `.52`), fail (`.53`, `.54`, and nothing changes), hold the bill until the payment
settles an hour later on the partner's clock (`.55`), or settle it now.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from gateway.collections.models import Bill, SettlementChannel
from gateway.errors import (
    CORE_REJECTIONS,
    CoreRejectedError,
    CoreTimeoutError,
    CoreUnavailableError,
)
from gateway.http.schemas import money
from gateway.idempotency import answer
from gateway.services import Services
from policies.messages import Text
from policies.pipeline import Exchange
from sandbox.magic import PENDING_FOR, Magic, magic

RETRY_AFTER = 5
TIMED_OUT = Text(
    "The bank's core did not answer in time (magic value .53); the bill is unchanged.",
    "银行核心系统未能及时响应（魔法值 .53），账单未发生变化。",
)
UNAVAILABLE = Text(
    "The bank's core is unavailable (magic value .54); retry after {seconds} s.",
    "银行核心系统暂不可用（魔法值 .54），请 {seconds} 秒后重试。",
)


def _refuse(outcome: Magic | None) -> None:
    if outcome is Magic.INSUFFICIENT_FUNDS:
        raise CoreRejectedError("insufficient-funds", CORE_REJECTIONS["insufficient-funds"])
    if outcome is Magic.ACCOUNT_FROZEN:
        raise CoreRejectedError("account-frozen", CORE_REJECTIONS["account-frozen"])
    if outcome is Magic.CORE_TIMEOUT:
        raise CoreTimeoutError(TIMED_OUT)
    if outcome is Magic.CORE_UNAVAILABLE:
        raise CoreUnavailableError(
            UNAVAILABLE.format(seconds=RETRY_AFTER), headers={"Retry-After": str(RETRY_AFTER)}
        )


def _payment(bill: Bill, via: str) -> dict[str, Any]:
    return {
        "bill_id": bill.id,
        "status": bill.status.value,
        "amount": money(bill.amount),
        "paid_via": via,
        "settled_at": bill.settled_at,
        "settles_at": bill.settles_at,
    }


async def pay_bill_at_bank(
    services: Services, exchange: Exchange, partner_id: str, bill_id: str, via: str
) -> Response:
    """`200` with the bill Paid now, or `202` with it held until `settles_at`; the answer is
    stored with the change when the request carries an Idempotency-Key."""
    bills = services.bills
    now = await services.clock.now(partner_id)
    await bills.process_due(partner_id, now)
    async with services.db.read() as conn:
        bill = await bills.open_bill(conn, partner_id, bill_id)
    outcome = magic(bill.amount.cents)
    _refuse(outcome)
    async with services.db.transaction() as uow:
        if outcome is Magic.PENDING:
            bill = await bills.hold_for_bank(uow, partner_id, bill_id, now + PENDING_FOR)
            status = 202
        else:
            bill = await bills.settle(
                uow,
                partner_id,
                bill_id,
                channel=SettlementChannel.BANK_CHANNEL,
                payment_id=None,
                at=now,
            )
            status = 200
        return await answer(services.idempotency, uow, exchange, status, _payment(bill, via))
