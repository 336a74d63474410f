"""Payment initiation: consent-bound, risk-limited, idempotent, and never paid twice.

A payment goes through three steps:

1. **Reserve** (one unit of work): the consent is locked and used up (`Authorised →
   Consumed`), the amount is reserved against the partner's daily cap, the bill (if any) is
   held, and the payment is written as `Initiating`.
2. **Ask the core** with the payment id as the order's reference.
3. **Record** (one unit of work): the core's answer becomes the payment's status, the bill is
   settled or released, the consent and the reservation are given back on a refusal, the
   `payment.status_changed` event is written to the outbox, and the answer is stored under the
   request's idempotency key — all or nothing.

If the core does not answer (timeout, unavailable), the payment stays `Initiating` and the
request fails with `504`/`503`; its key is released. A retry with the same key finds the
payment and *looks it up in the core* before asking again, so money never moves twice; the
reconciler does the same for payments nobody retries, and settles pending ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import structlog
from starlette.responses import Response

from adapters.contract import (
    CoreContext,
    CoreNotFound,
    CorePayment,
    CoreRejected,
    Money,
    PaymentOrder,
    PaymentStatus,
)
from adapters.resilience import CoreClient
from gateway.clock import PartnerClock, business_day, utcnow
from gateway.collections.service import BillService
from gateway.consents.models import Consent
from gateway.consents.store import ConsentStore
from gateway.errors import (
    ConsentInsufficientError,
    CoreRejectedError,
    FieldError,
    IdempotencyKeyReusedError,
    InvalidTokenError,
    NotFoundError,
    RiskLimitExceededError,
    ValidationFailedError,
)
from gateway.events.outbox import Event, EventType, Outbox
from gateway.idempotency import DatabaseIdempotencyStore, answer, answer_problem
from gateway.ids import new_id
from gateway.partners.service import Registry
from gateway.payments.models import Payment, PaymentState
from gateway.payments.schemas import PaymentRequest, payment_out
from gateway.payments.store import PaymentStore, RiskTotals
from gateway.storage.database import Database, UnitOfWork
from policies.catalog import Catalog
from policies.messages import Text
from policies.pipeline import Exchange
from policies.vocabulary import ConsentStatus, ConsentType

log = structlog.get_logger("obgw.payments")

LOST_AFTER = timedelta(seconds=30)  # an `Initiating` payment nobody retried is looked up then
_CORE_STATE = {
    PaymentStatus.PENDING: PaymentState.PENDING,
    PaymentStatus.COMPLETED: PaymentState.COMPLETED,
    PaymentStatus.REJECTED: PaymentState.REJECTED,
}


class PaymentService:
    """Initiates, reads and reconciles payments (see the module docstring)."""

    def __init__(
        self,
        *,
        db: Database,
        core: CoreClient,
        clock: PartnerClock,
        catalog: Catalog,
        registry: Registry,
        outbox: Outbox,
        idempotency: DatabaseIdempotencyStore,
        bills: BillService,
    ) -> None:
        self.db = db
        self.bills = bills
        self.core = core
        self.clock = clock
        self.catalog = catalog
        self.registry = registry
        self.outbox = outbox
        self.idempotency = idempotency
        self.store = PaymentStore()
        self.consents = ConsentStore()
        self.risk = RiskTotals()

    async def initiate(self, exchange: Exchange, request: PaymentRequest) -> Response:
        """Pay under the token's consent; the answer is stored under the idempotency key."""
        grant = exchange.grant
        claim = exchange.idempotency
        assert grant is not None, "payments take a token"
        assert claim is not None, "payments take an idempotency key"
        if request.consent_id != grant.consent_id:
            raise ConsentInsufficientError(
                OTHER_CONSENT, errors=[FieldError("consent_id", OTHER_CONSENT)]
            )
        partner_id = grant.partner_id
        async with self.db.read() as conn:
            earlier = await self.store.by_key(conn, grant.client_id, claim.key)
        if earlier is not None:
            return await self._retry(exchange, earlier, request)
        payment = await self._reserve(exchange, request, partner_id, claim.key)
        return await self._execute(exchange, payment)

    async def get(self, partner_id: str, consent_id: str, payment_id: str) -> Payment:
        """The payment, if it was made by this partner under this consent."""
        async with self.db.read() as conn:
            payment = await self.store.get(conn, payment_id)
        if (
            payment is None
            or payment.partner_id != partner_id
            or payment.consent_id != consent_id
            or payment.status is PaymentState.INITIATING
        ):
            raise NotFoundError(NO_SUCH_PAYMENT)
        return payment

    async def reconcile(self, partner_id: str | None = None) -> int:
        """Look up in the core every pending payment, and every payment whose core answer was
        lost; record what changed. Returns how many payments changed."""
        async with self.db.read() as conn:
            found = await self.store.unsettled(conn, partner_id, utcnow() - LOST_AFTER)
        changed = 0
        for payment in found:
            try:
                changed += await self._reconcile_one(payment)
            except Exception:
                log.warning("payment_reconcile_failed", payment_id=payment.id, exc_info=True)
        return changed

    # The three steps

    async def _reserve(
        self, exchange: Exchange, request: PaymentRequest, partner_id: str, key: str
    ) -> Payment:
        grant = exchange.grant
        assert grant is not None
        now = await self.clock.now(partner_id)
        amount = Money(Decimal(request.amount.value), request.amount.currency)
        partner = await self.registry.get_partner(partner_id)
        assert partner is not None, "a token's partner exists"
        limit = self.catalog.risk_limit(partner.tier)
        async with self.db.transaction() as uow:
            consent = await self.consents.get(uow.conn, request.consent_id, for_update=True)
            if consent is None or consent.partner_id != partner_id:
                raise InvalidTokenError(CONSENT_GONE, code="consent-revoked")
            _check_usable(consent)
            debtor_ref = _check_terms(consent, request, amount)
            if amount.value > limit.per_consent:
                raise RiskLimitExceededError(
                    PER_CONSENT_CAP.format(cap=f"{limit.per_consent:.2f}"),
                    errors=[FieldError("amount.value", PER_CONSENT_FIELD)],
                )
            day = business_day(now)
            daily_cap = Money(limit.daily).cents
            if not await self.risk.reserve(uow.conn, partner_id, day, amount.cents, daily_cap):
                raise RiskLimitExceededError(DAILY_CAP.format(cap=f"{limit.daily:.2f}"))
            is_consumed = await self.consents.set_status(
                uow.conn,
                consent.id,
                ConsentStatus.CONSUMED,
                only_from=(ConsentStatus.AUTHORISED,),
                at=utcnow(),
            )
            if not is_consumed:
                raise InvalidTokenError(CONSENT_USED, code="consent-consumed")
            assert consent.customer_ref is not None
            assert consent.psu_id is not None
            payment = Payment(
                id=new_id("pay"),
                partner_id=partner_id,
                client_id=grant.client_id,
                consent_id=consent.id,
                customer_ref=consent.customer_ref,
                psu_id=consent.psu_id,
                debtor_account_id=request.debtor_account_id,
                debtor_account_ref=debtor_ref,
                amount=amount,
                creditor_account_number=request.creditor.account_number,
                creditor_name=request.creditor.name,
                reference=request.reference,
                bill_id=request.bill_id,
                status=PaymentState.INITIATING,
                reason=None,
                idempotency_key=key,
                core_ref=None,
                created_at=now,
                status_updated_at=now,
                settled_at=None,
            )
            await self._hold_bill(uow, payment)
            await self.store.insert(uow.conn, payment)
        return payment

    async def _execute(self, exchange: Exchange, payment: Payment) -> Response:
        """Ask the core (the reference makes a repeated order harmless) and record it."""
        order = PaymentOrder(
            reference=payment.id,
            debtor_account_ref=payment.debtor_account_ref,
            amount=payment.amount,
            creditor_account_number=payment.creditor_account_number,
            creditor_name=payment.creditor_name,
            remittance=payment.reference,
        )
        ctx = self._context(payment, exchange.request_id)
        try:
            result = await self.core.payments.initiate_payment(ctx, order)
        except CoreRejected as refusal:
            answered = await self._record_refusal(exchange, payment, refusal.code)
        except CoreNotFound:
            answered = await self._record_refusal(exchange, payment, "debtor-account-not-found")
        else:
            answered = await self._record(exchange, payment, result)
        assert answered is not None
        return answered

    async def _retry(
        self, exchange: Exchange, earlier: Payment, request: PaymentRequest
    ) -> Response:
        """The same key again after an answer that was never stored (the core did not answer,
        or the reconciler finished the payment since)."""
        amount = Money(Decimal(request.amount.value), request.amount.currency)
        asked = replace(
            earlier,
            consent_id=request.consent_id,
            debtor_account_id=request.debtor_account_id,
            amount=amount,
            creditor_account_number=request.creditor.account_number,
            creditor_name=request.creditor.name,
            reference=request.reference,
            bill_id=request.bill_id,
        )
        if not earlier.same_terms(asked):
            raise IdempotencyKeyReusedError(KEY_OF_OTHER_PAYMENT)
        if earlier.status is PaymentState.INITIATING:
            found = await self.core.payments.find_payment(
                self._context(earlier, exchange.request_id), earlier.id
            )
            if found is None:
                return await self._execute(exchange, earlier)
            answered = await self._record(exchange, earlier, found)
            assert answered is not None
            return answered
        async with self.db.transaction() as uow:
            if earlier.status is PaymentState.REJECTED:
                error = _refusal(earlier.reason or "payment-rejected")
                return await answer_problem(
                    self.idempotency, uow, exchange, error, {"payment_id": earlier.id}
                )
            return await self._answer(uow, exchange, earlier)

    async def _record(
        self, exchange: Exchange | None, payment: Payment, result: CorePayment
    ) -> Response | None:
        """Record the core's answer (and, for a request, store and return the answer)."""
        status = _CORE_STATE[result.status]
        if status is PaymentState.REJECTED:
            return await self._record_refusal(
                exchange, payment, result.reason or "payment-rejected"
            )
        now = await self.clock.now(payment.partner_id)
        settled_at = result.updated_at if status is PaymentState.COMPLETED else None
        async with self.db.transaction() as uow:
            moved = await self.store.move(
                uow.conn,
                payment.id,
                status,
                only_from=(PaymentState.INITIATING, PaymentState.PENDING),
                at=now,
                core_ref=result.core_ref,
                settled_at=settled_at,
            )
            current = await self.store.get(uow.conn, payment.id)
            assert current is not None
            if moved and current.status is not payment.status:
                if settled_at is not None:
                    await self._settle_bill(uow, current, settled_at)
                await self._event(uow, current)
            if exchange is None:
                return None
            return await self._answer(uow, exchange, current)

    async def _record_refusal(
        self, exchange: Exchange | None, payment: Payment, reason: str
    ) -> Response | None:
        """Record a refusal: the consent, the reserved amount and the bill are given back."""
        now = await self.clock.now(payment.partner_id)
        async with self.db.transaction() as uow:
            moved = await self.store.move(
                uow.conn,
                payment.id,
                PaymentState.REJECTED,
                only_from=(PaymentState.INITIATING, PaymentState.PENDING),
                at=now,
                reason=reason,
            )
            current = await self.store.get(uow.conn, payment.id)
            assert current is not None
            if moved:
                await self.consents.set_status(
                    uow.conn,
                    payment.consent_id,
                    ConsentStatus.AUTHORISED,
                    only_from=(ConsentStatus.CONSUMED,),
                    at=utcnow(),
                )
                await self.risk.give_back(
                    uow.conn,
                    payment.partner_id,
                    business_day(payment.created_at),
                    payment.amount.cents,
                )
                await self._release_bill(uow, payment)
                await self._event(uow, current)
            if exchange is None:
                return None
            error = _refusal(current.reason or reason)
            return await answer_problem(
                self.idempotency, uow, exchange, error, {"payment_id": payment.id}
            )

    async def _reconcile_one(self, payment: Payment) -> int:
        found = await self.core.payments.find_payment(self._context(payment, ""), payment.id)
        if found is None:
            if payment.status is PaymentState.INITIATING:
                # The core never executed it and nobody retried: give everything back.
                await self._record_refusal(None, payment, "payment-not-executed")
                return 1
            return 0
        if _CORE_STATE[found.status] is payment.status:
            return 0
        await self._record(None, payment, found)
        return 1

    # Helpers

    async def _answer(self, uow: UnitOfWork, exchange: Exchange, payment: Payment) -> Response:
        return await answer(
            self.idempotency,
            uow,
            exchange,
            201,
            payment_out(payment),
            {"Location": f"/v1/payments/{payment.id}", "Cache-Control": "no-store"},
        )

    async def _event(self, uow: UnitOfWork, payment: Payment) -> None:
        out = payment_out(payment)
        data: Mapping[str, Any] = {
            "payment_id": payment.id,
            "consent_id": payment.consent_id,
            "status": out["status"],
            "reason": payment.reason,
            "amount": out["amount"],
            "bill_id": payment.bill_id,
        }
        await self.outbox.add(
            uow.conn,
            Event(
                payment.partner_id,
                EventType.PAYMENT_STATUS_CHANGED,
                dict(data),
                occurred_at=payment.status_updated_at,
            ),
        )

    def _context(self, payment: Payment, request_id: str) -> CoreContext:
        return self.core.context(
            payment.partner_id, request_id=request_id, idempotency_key=payment.id
        )

    async def _hold_bill(self, uow: UnitOfWork, payment: Payment) -> None:
        """Hold the bill a payment settles: the partner's, Open, of exactly this amount."""
        if payment.bill_id is None:
            return
        await self.bills.payable(uow.conn, payment.partner_id, payment.bill_id, payment.amount)
        await self.bills.reserve(uow, payment.partner_id, payment.bill_id, payment.id)

    async def _settle_bill(self, uow: UnitOfWork, payment: Payment, at: datetime) -> None:
        """The money arrived: the payment's bill is paid."""
        if payment.bill_id is not None:
            await self.bills.settle(
                uow,
                payment.partner_id,
                payment.bill_id,
                channel="customer_payment",
                payment_id=payment.id,
                at=at,
            )

    async def _release_bill(self, uow: UnitOfWork, payment: Payment) -> None:
        """The payment was refused: its bill is payable again."""
        if payment.bill_id is not None:
            await self.bills.release(uow, payment.partner_id, payment.bill_id, payment.id)


async def check_per_consent_cap(services: _HasCaps, partner_id: str, value: str) -> None:
    """Refuse a payment consent whose amount passes the partner tier's per-consent cap."""
    partner = await services.registry.get_partner(partner_id)
    assert partner is not None, "a token's partner exists"
    cap = services.catalog.risk_limit(partner.tier).per_consent
    if Decimal(value) > cap:
        raise RiskLimitExceededError(
            PER_CONSENT_CAP.format(cap=f"{cap:.2f}"),
            errors=[FieldError("payment.amount.value", PER_CONSENT_FIELD)],
        )


class _HasCaps(Protocol):
    registry: Registry
    catalog: Catalog


def _check_usable(consent: Consent) -> None:
    """The consent can still pay: a payment consent, authorised and unexpired."""
    if consent.type is not ConsentType.PAYMENT or "InitiatePayments" not in consent.permissions:
        raise ConsentInsufficientError(NOT_A_PAYMENT_CONSENT)
    if consent.status is ConsentStatus.CONSUMED:
        raise InvalidTokenError(CONSENT_USED, code="consent-consumed")
    if consent.status is ConsentStatus.EXPIRED:
        raise InvalidTokenError(CONSENT_EXPIRED, code="consent-expired")
    if consent.status is not ConsentStatus.AUTHORISED:
        raise InvalidTokenError(CONSENT_GONE, code="consent-revoked")


def _check_terms(consent: Consent, request: PaymentRequest, amount: Money) -> str:
    """The debtor account's core reference, if the request is exactly the consent's payment
    from an account the customer chose; else the problem naming each difference."""
    terms = consent.payment or {}
    consented = terms.get("amount", {})
    creditor = terms.get("creditor", {})
    differences = [
        FieldError(path, NOT_AS_CONSENTED)
        for path, asked, allowed in (
            ("amount.value", f"{amount.value:.2f}", consented.get("value")),
            ("amount.currency", amount.currency, consented.get("currency", "CNY")),
            (
                "creditor.account_number",
                request.creditor.account_number,
                creditor.get("account_number"),
            ),
            ("creditor.name", request.creditor.name, creditor.get("name")),
            ("reference", request.reference, terms.get("reference")),
        )
        if asked != allowed
    ]
    if differences:
        raise ValidationFailedError(TERMS_DIFFER, errors=differences)
    debtor_ref = (consent.accounts or {}).get(request.debtor_account_id)
    if debtor_ref is None:
        raise ConsentInsufficientError(
            NOT_SELECTED, errors=[FieldError("debtor_account_id", NOT_SELECTED)]
        )
    return debtor_ref


def _refusal(reason: str) -> CoreRejectedError:
    detail = REFUSALS.get(reason)
    return CoreRejectedError(reason, detail)


OTHER_CONSENT = Text(
    "consent_id is not the consent this access token was issued for: pay with the token of "
    "that consent.",
    "consent_id 与签发此访问令牌所依据的授权不一致：请使用该授权对应的令牌付款。",
)
CONSENT_GONE = Text(
    "The customer's payment consent was revoked or no longer exists: ask the customer for a "
    "new consent.",
    "客户的付款授权已被撤销或不存在：请重新请求客户授权。",
)
CONSENT_USED = Text(
    "This payment consent was already used for a payment (it allows one): ask the customer "
    "for a new consent to pay again.",
    "此付款授权已用于一笔付款（仅可使用一次）：如需再次付款，请重新请求客户授权。",
)
CONSENT_EXPIRED = Text(
    "This payment consent has expired: ask the customer for a new consent.",
    "此付款授权已过期：请重新请求客户授权。",
)
NOT_A_PAYMENT_CONSENT = Text(
    "The token's consent is not a payment consent with InitiatePayments.",
    "此令牌所依据的授权不是含 InitiatePayments 权限的付款授权。",
)
TERMS_DIFFER = Text(
    "The payment differs from the one the customer consented to: send exactly the consent's "
    "amount, creditor and reference (see `errors`).",
    "付款内容与客户授权的不一致：请按授权中的金额、收款方和附言原样发送（详见 errors）。",
)
NOT_AS_CONSENTED = Text(
    "This differs from the consent's terms.",
    "与授权条款不一致。",
)
NOT_SELECTED = Text(
    "The customer did not choose this account to pay from for this consent: use one of the "
    "consent's account_ids.",
    "客户未在此授权中选择该账户付款：请使用授权 account_ids 中的账户。",
)
NO_SUCH_PAYMENT = Text(
    "No payment with this id was made under this token's consent.",
    "此令牌所依据的授权下没有该编号的付款。",
)
KEY_OF_OTHER_PAYMENT = Text(
    "This Idempotency-Key was used for a different payment: use a new key for a new payment.",
    "该 Idempotency-Key 已用于另一笔付款：新的付款请使用新的幂等键。",
)
PER_CONSENT_CAP = Text(
    "The amount is above what one payment may carry for your partner tier ({cap} CNY).",
    "金额超过您的合作方等级单笔付款上限（{cap} 元）。",
)
PER_CONSENT_FIELD = Text("Above the per-payment cap.", "超过单笔上限。")
DAILY_CAP = Text(
    "Your payments today would pass your partner tier's daily cap ({cap} CNY): retry "
    "tomorrow (China time) or ask the bank about a higher tier.",
    "今日付款总额将超过您的合作方等级每日上限（{cap} 元）：请于明日（北京时间）再试，"
    "或联系银行提升等级。",
)
REFUSALS: dict[str, Text] = {
    "payment-rejected": Text(
        "The bank refused this payment; nothing was debited.",
        "银行拒绝了此付款，未发生扣款。",
    ),
    "insufficient-funds": Text(
        "The customer's account does not hold enough available money for this payment; the "
        "consent stays usable once the customer has topped it up.",
        "客户账户可用余额不足；客户充值后此授权仍可使用。",
    ),
    "account-frozen": Text(
        "The customer's account is frozen and cannot pay; the customer should contact the bank.",
        "客户账户已冻结，无法付款；请客户联系银行。",
    ),
    "debtor-account-not-found": Text(
        "The bank no longer holds the account chosen to pay from; ask the customer for a new "
        "consent.",
        "银行已不存在所选的付款账户；请重新请求客户授权。",
    ),
    "payment-not-executed": Text(
        "The bank's core system did not execute this payment; nothing was debited. Retry with "
        "a new Idempotency-Key.",
        "银行核心系统未执行此付款，未发生扣款。请使用新的 Idempotency-Key 重试。",
    ),
}
