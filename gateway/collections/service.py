"""Bill operations: issuing, reading and cancelling bills for partners; holding, releasing
and settling them for the payments that pay them; expiring and settling what falls due.

Operations that other packages run inside their own unit of work (`payable`, `reserve`,
`release`, `settle`) take it as their first argument; the others open their own.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import date, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.contract import Money
from gateway.clock import PartnerClock, business_day, day_window, utcnow
from gateway.collections.models import (
    Bill,
    BillCategory,
    BillStatus,
    SettlementChannel,
    new_pay_code,
)
from gateway.collections.statement import (
    Statement,
    StatementStatus,
    amount_text,
    build_statement,
    rfc3339,
)
from gateway.collections.store import BillStore
from gateway.errors import (
    BillNotOpenError,
    BillPaymentPendingError,
    FieldError,
    InternalError,
    InvalidRequestError,
    NotFoundError,
    ValidationFailedError,
)
from gateway.events.outbox import Event, EventType, Outbox
from gateway.ids import new_id
from gateway.storage.database import Database, UnitOfWork
from gateway.storage.tables import bills
from policies.messages import Text

MAX_DUE_AHEAD = timedelta(days=366)
PAY_CODE_ATTEMPTS = 5
BATCH = 200

NO_SUCH_BILL = Text(
    "You have no bill with this id: check the bill_id that POST /v1/collections/bills returned.",
    "您没有此编号的账单：请核对 POST /v1/collections/bills 返回的 bill_id。",
)
NOT_OPEN = Text(
    "This bill is {status}: only an Open bill can be paid or cancelled.",
    "该账单状态为 {status}：只有待缴（Open）的账单才能缴费或撤销。",
)
PAYMENT_PENDING = Text(
    "A payment of this bill is pending: the bill can be paid or cancelled only if that "
    "payment fails.",
    "该账单有一笔处理中的缴费：只有该笔缴费失败后，账单才能再次缴费或撤销。",
)
AMOUNT_MISMATCH = Text(
    "The amount must equal the bill's amount exactly ({amount} {currency}).",
    "金额必须与账单金额完全一致（{amount} {currency}）。",
)
BILL_AMOUNT_DIFFERS = Text(
    "The payment does not match the bill: see `errors`.", "付款与账单不符：详见 errors。"
)
DUE_DATE_PAST = Text(
    "The due date must not be before today ({today}, China business day).",
    "到期日不能早于今天（{today}，北京时间营业日）。",
)
DUE_DATE_FAR = Text(
    "The due date must be at most 366 days ahead (on or before {last}).",
    "到期日最多为 366 天之后（不晚于 {last}）。",
)
BAD_DUE_DATE = Text("The due date is not acceptable: see `errors`.", "到期日无效：详见 errors。")
FUTURE_DAY = Text(
    "There is no statement for a day that has not begun: today is {today} (China business day).",
    "尚未到来的日期没有对账单：今天是 {today}（北京时间营业日）。",
)
FIRST_DAY = date(1970, 1, 1)
BEFORE_FIRST_DAY = Text(
    "Statements begin on 1970-01-01: ask for a later day.",
    "对账单自 1970-01-01 起提供：请查询之后的日期。",
)
BAD_DAY = Text("The statement date is not acceptable: see `errors`.", "对账日期无效：详见 errors。")
BAD_CURSOR = Text(
    "The cursor is not valid: pass the next_cursor of the previous page unchanged.",
    "游标无效：请原样传入上一页返回的 next_cursor。",
)
NOT_A_CURSOR = Text("not a cursor of this list", "不是此列表的游标")


def encode_cursor(bill: Bill) -> str:
    """The position after `bill` in the newest-first order."""
    raw = f"{bill.created_at.isoformat()}|{bill.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, bill_id = raw.partition("|")
        moment = datetime.fromisoformat(created)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        moment, bill_id = None, ""
    if moment is None or moment.tzinfo is None or not bill_id.startswith("bill_"):
        raise InvalidRequestError(BAD_CURSOR, errors=[FieldError("cursor", NOT_A_CURSOR)])
    return moment, bill_id


def _paid_event(bill: Bill) -> Event:
    assert bill.settled_at is not None
    assert bill.channel is not None
    return Event(
        bill.partner_id,
        EventType.BILL_PAID,
        {
            "bill_id": bill.id,
            "status": bill.status.value,
            "payment_id": bill.payment_id,
            "channel": bill.channel.value,
            "amount": {"value": amount_text(bill.amount.cents), "currency": bill.amount.currency},
            "settled_at": rfc3339(bill.settled_at),
        },
        occurred_at=bill.settled_at,
    )


def _status_event(bill: Bill, type: EventType) -> Event:
    return Event(
        bill.partner_id,
        type,
        {"bill_id": bill.id, "status": bill.status.value},
        occurred_at=bill.status_updated_at,
    )


class BillService:
    """Bills of scene partners, on each partner's clock (`PartnerClock`)."""

    def __init__(
        self,
        db: Database,
        outbox: Outbox,
        clock: PartnerClock,
        *,
        pay_codes: Callable[[], str] = new_pay_code,
    ) -> None:
        self.db = db
        self.outbox = outbox
        self.clock = clock
        self.pay_codes = pay_codes
        self.store = BillStore()

    async def today(self, partner_id: str) -> date:
        """The partner's current China business day."""
        return business_day(await self.clock.now(partner_id))

    # Partners' operations

    async def check_due_date(self, partner_id: str, due_date: date) -> None:
        """Refuse (422, naming `due_date`) a due date before the partner's business day or
        more than 366 days after it."""
        today = await self.today(partner_id)
        if due_date < today:
            problem = DUE_DATE_PAST.format(today=today.isoformat())
        elif due_date > today + MAX_DUE_AHEAD:
            problem = DUE_DATE_FAR.format(last=(today + MAX_DUE_AHEAD).isoformat())
        else:
            return
        raise ValidationFailedError(BAD_DUE_DATE, errors=[FieldError("due_date", problem)])

    async def create(
        self,
        uow: UnitOfWork,
        *,
        partner_id: str,
        category: BillCategory,
        payer_reference: str,
        payer_name: str,
        description: str,
        amount: Money,
        due_date: date,
    ) -> Bill:
        """Issue an Open bill with a pay code no other bill of the partner has."""
        stamp = utcnow()
        for _ in range(PAY_CODE_ATTEMPTS):
            bill = Bill(
                id=new_id("bill"),
                partner_id=partner_id,
                category=category,
                payer_reference=payer_reference,
                payer_name=payer_name,
                description=description,
                amount=amount,
                due_date=due_date,
                pay_code=self.pay_codes(),
                status=BillStatus.OPEN,
                created_at=stamp,
                status_updated_at=stamp,
            )
            try:
                # A savepoint: on PostgreSQL a failed statement would abort the whole unit.
                async with uow.conn.begin_nested():
                    await self.store.insert(uow.conn, bill)
            except IntegrityError:
                continue
            return bill
        raise InternalError()

    async def get(self, partner_id: str, bill_id: str) -> Bill:
        """The partner's bill as of the partner's clock; another partner's is not found."""
        await self.catch_up(partner_id)
        async with self.db.read() as conn:
            bill = await self.store.get(conn, partner_id, bill_id)
        if bill is None:
            raise NotFoundError(NO_SUCH_BILL)
        return bill

    async def page(
        self, partner_id: str, *, status: BillStatus | None, page_size: int, cursor: str | None
    ) -> tuple[list[Bill], str | None]:
        """One page of the partner's bills, newest first, and the next page's cursor."""
        after = decode_cursor(cursor) if cursor is not None else None
        await self.catch_up(partner_id)
        async with self.db.read() as conn:
            found = await self.store.page(
                conn, partner_id, status=status, after=after, limit=page_size + 1
            )
        if len(found) > page_size:
            return found[:page_size], encode_cursor(found[page_size - 1])
        return found, None

    async def cancel(self, uow: UnitOfWork, partner_id: str, bill_id: str) -> Bill:
        """Open → Cancelled with a `bill.cancelled` event; a Cancelled bill is answered as
        it is. Raises `NotFoundError`, `BillNotOpenError` (Paid, Expired) or
        `BillPaymentPendingError` (a payment holds it)."""
        stamp = utcnow()
        if await self.store.cancel(uow.conn, partner_id, bill_id, stamp):
            bill = await self._reread(uow.conn, partner_id, bill_id)
            await self.outbox.add(uow.conn, _status_event(bill, EventType.BILL_CANCELLED))
            return bill
        bill = await self._reread(uow.conn, partner_id, bill_id)
        if bill.status is BillStatus.CANCELLED:
            return bill
        raise self._refusal(bill)

    async def statement(self, partner_id: str, day: date) -> Statement:
        """The statement of `day` (a China business day, not after the partner's today):
        `closed` once the day is over for the partner, after which it never changes."""
        now = await self.clock.now(partner_id)
        today = business_day(now)
        if not FIRST_DAY <= day <= today:
            problem = (
                FUTURE_DAY.format(today=today.isoformat()) if day > today else BEFORE_FIRST_DAY
            )
            raise ValidationFailedError(BAD_DAY, errors=[FieldError("path.date", problem)])
        # Whatever settles by now is booked first, so a day that is over is complete.
        await self.process_due(partner_id, now)
        start, end = day_window(day)
        async with self.db.read() as conn:
            items = await self.store.settled_between(conn, partner_id, start, end)
        status = StatementStatus.CLOSED if day < today else StatementStatus.OPEN
        return build_statement(day, status, items)

    # For payments, in the caller's unit of work

    async def open_bill(self, conn: AsyncConnection, partner_id: str, bill_id: str) -> Bill:
        """The partner's bill if it is Open and no payment holds it; raises as `payable`."""
        bill = await self.store.get(conn, partner_id, bill_id)
        if bill is None:
            raise NotFoundError(NO_SUCH_BILL)
        if not bill.is_payable:
            raise self._refusal(bill)
        return bill

    async def payable(
        self, conn: AsyncConnection, partner_id: str, bill_id: str, amount: Money
    ) -> Bill:
        """The bill a payment of `amount` may pay: the partner's, Open, not held by another
        payment, and of exactly `amount`.

        Raises `NotFoundError` (404: not the partner's), `BillNotOpenError` (409: Paid,
        Cancelled or Expired), `BillPaymentPendingError` (409: held) or
        `ValidationFailedError` (422, `errors` path `amount`: another amount or currency).
        """
        bill = await self.open_bill(conn, partner_id, bill_id)
        if amount.currency != bill.amount.currency or amount.cents != bill.amount.cents:
            message = AMOUNT_MISMATCH.format(
                amount=amount_text(bill.amount.cents), currency=bill.amount.currency
            )
            raise ValidationFailedError(BILL_AMOUNT_DIFFERS, errors=[FieldError("amount", message)])
        return bill

    async def reserve(
        self, uow: UnitOfWork, partner_id: str, bill_id: str, payment_id: str
    ) -> Bill:
        """Hold the bill for the pending payment `payment_id`: until `release` or `settle`,
        no other payment may pay it, nor may it be cancelled or expire.

        Race-safe: of concurrent payments for one bill exactly one holds it; the others get
        `BillPaymentPendingError`. Holding it again for the same payment is harmless.
        Raises as `payable` does for a missing or closed bill.
        """
        if await self.store.reserve(uow.conn, partner_id, bill_id, payment_id):
            return await self._reread(uow.conn, partner_id, bill_id)
        bill = await self._reread(uow.conn, partner_id, bill_id)
        if bill.status is BillStatus.OPEN and bill.payment_id == payment_id:
            return bill
        raise self._refusal(bill)

    async def release(
        self, uow: UnitOfWork, partner_id: str, bill_id: str, payment_id: str
    ) -> bool:
        """The payment `payment_id` was rejected: the bill is payable again. False (and no
        change) if that payment did not hold the bill."""
        return await self.store.release(uow.conn, partner_id, bill_id, payment_id)

    async def settle(
        self,
        uow: UnitOfWork,
        partner_id: str,
        bill_id: str,
        *,
        channel: str,
        payment_id: str | None,
        at: datetime,
    ) -> Bill:
        """Open → Paid: the money arrived at `at` through `channel` (`customer_payment` or
        `bank_channel`), with a `bill.paid` event.

        A customer payment settles the bill it holds (or an unheld one); settling it again
        for the same payment returns the bill unchanged. A settlement reported after its
        China business day is over for the partner is booked at the start of the partner's
        current day: a closed statement never changes. Raises as `payable` does.
        """
        kind = SettlementChannel(channel)
        floor = day_window(await self.today(partner_id))[0]
        stamp = max(at, floor)
        held_by = (
            (bills.c.settles_at.is_(None), bills.c.payment_id.is_(None))
            if payment_id is None
            else (
                bills.c.settles_at.is_(None),
                (bills.c.payment_id.is_(None)) | (bills.c.payment_id == payment_id),
            )
        )
        changed = await self.store.settle(
            uow.conn,
            partner_id,
            bill_id,
            channel=kind,
            payment_id=payment_id,
            at=stamp,
            held_by=held_by,
        )
        bill = await self._reread(uow.conn, partner_id, bill_id)
        if changed:
            await self.outbox.add(uow.conn, _paid_event(bill))
            return bill
        if (
            payment_id is not None
            and bill.status is BillStatus.PAID
            and bill.payment_id == payment_id
        ):
            return bill
        raise self._refusal(bill)

    async def hold_for_bank(
        self, uow: UnitOfWork, partner_id: str, bill_id: str, settles_at: datetime
    ) -> Bill:
        """A payer's bank-channel payment is pending until `settles_at` (`process_due`
        settles it then). Raises as `payable` does."""
        if await self.store.hold_for_bank(uow.conn, partner_id, bill_id, settles_at):
            return await self._reread(uow.conn, partner_id, bill_id)
        raise self._refusal(await self._reread(uow.conn, partner_id, bill_id))

    # What falls due

    async def catch_up(self, partner_id: str) -> None:
        """Bring the partner's bills up to the partner's clock before reading them."""
        await self.process_due(partner_id, await self.clock.now(partner_id))

    async def process_due(self, partner_id: str | None, now: datetime) -> dict[str, int]:
        """Expire Open, unheld bills due before `business_day(now)`, and settle bank-channel
        payments whose `settles_at` is not after `now` (Paid at `settles_at`); for one
        partner, or every partner (`None`, the periodic due work on the wall clock).

        Idempotent and safe on several replicas at once: every change is a conditional
        update, and only the one that changed a row writes its event.
        """
        day = business_day(now)
        done = {"bills_expired": 0, "bills_settled": 0}
        while True:
            async with self.db.read() as conn:
                overdue = await self.store.overdue(conn, partner_id, day, BATCH)
                settling = await self.store.bank_settlements_due(conn, partner_id, now, BATCH)
            if not overdue and not settling:
                return done
            async with self.db.transaction() as uow:
                for bill in overdue:
                    if await self.store.expire(uow.conn, bill.id, now, day):
                        expired = await self._reread(uow.conn, bill.partner_id, bill.id)
                        await self.outbox.add(
                            uow.conn, _status_event(expired, EventType.BILL_EXPIRED)
                        )
                        done["bills_expired"] += 1
                for bill in settling:
                    assert bill.settles_at is not None
                    if await self.store.settle(
                        uow.conn,
                        bill.partner_id,
                        bill.id,
                        channel=SettlementChannel.BANK_CHANNEL,
                        payment_id=None,
                        at=bill.settles_at,
                        held_by=(
                            bills.c.payment_id.is_(None),
                            bills.c.settles_at == bill.settles_at,
                        ),
                    ):
                        paid = await self._reread(uow.conn, bill.partner_id, bill.id)
                        await self.outbox.add(uow.conn, _paid_event(paid))
                        done["bills_settled"] += 1
            if len(overdue) < BATCH and len(settling) < BATCH:
                return done

    # Helpers

    async def _reread(self, conn: AsyncConnection, partner_id: str, bill_id: str) -> Bill:
        bill = await self.store.get(conn, partner_id, bill_id)
        if bill is None:
            raise NotFoundError(NO_SUCH_BILL)
        return bill

    @staticmethod
    def _refusal(bill: Bill) -> BillNotOpenError | BillPaymentPendingError:
        if bill.status is not BillStatus.OPEN:
            return BillNotOpenError(NOT_OPEN.format(status=bill.status.value))
        return BillPaymentPendingError(PAYMENT_PENDING)
