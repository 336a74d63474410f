"""Accounts, balances and transactions (A2: customer account information, through a consent)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from adapters.contract import Account, PageRequest, TimeWindow, Transaction
from gateway.accounts.schemas import AccountIdPattern, AccountOut, BalanceOut, TransactionOut
from gateway.deps import Call, CallRoute
from gateway.errors import FieldError, NotFoundError, ValidationFailedError
from gateway.http.params import Cursor, Instant, PageSize
from gateway.http.responses import JsonResponse
from gateway.http.routing import product
from gateway.http.schemas import Page, money
from policies.masking import mask_account_number
from policies.messages import Text

router = APIRouter(prefix="/v1/accounts", tags=["Accounts"], route_class=CallRoute)
AccountPage = Page[AccountOut]
BalancePage = Page[BalanceOut]
TransactionPage = Page[TransactionOut]
AccountId = Annotated[
    str, Path(pattern=AccountIdPattern, description="An account id from /v1/accounts")
]
From = Annotated[
    Instant | None,
    Query(
        alias="from",
        description="Transactions booked at or after this moment: an RFC 3339 date-time with "
        "offset (write + as %2B), or a date (YYYY-MM-DD) taken as 00:00 China time (+08:00).",
    ),
]
To = Annotated[
    Instant | None,
    Query(
        description="Transactions booked before this moment (exclusive), after `from`: an RFC "
        "3339 date-time with offset (write + as %2B), or a date (YYYY-MM-DD) taken as 00:00 "
        "China time (+08:00).",
    ),
]
NO_SUCH_ACCOUNT = Text(
    "This consent covers no account with this id: use an account_id from GET /v1/accounts.",
    "此授权不包含该编号的账户：请使用 GET /v1/accounts 返回的 account_id。",
)


def _account_ref(call: Call, account_id: str) -> str:
    """The core reference of a consented account; anything else is simply not found."""
    ref = call.consent.accounts.get(account_id)
    if ref is None:
        raise NotFoundError(NO_SUCH_ACCOUNT)
    return ref


EMPTY_WINDOW = Text(
    "`from` must be before `to`: the window is from `from` (inclusive) to `to` (exclusive).",
    "from 必须早于 to：查询区间包含 from，不包含 to。",
)


def _account(call: Call, account_id: str, account: Account) -> AccountOut:
    detailed = "ReadAccountsDetail" in call.consent.permissions
    return {
        "account_id": account_id,
        "account_type": account.account_type,
        "account_subtype": account.account_subtype,
        "nickname": account.nickname,
        "currency": account.currency,
        "status": account.status.value,
        "opened_on": account.opened_on,
        "account_number": (
            account.account_number if detailed else mask_account_number(account.account_number)
        ),
    }


@router.get(
    "",
    summary="The consented accounts",
    openapi_extra=product("accounts.list", problems=[501, 503, 504]),
    response_model=AccountPage,
)
async def list_accounts(call: Call, page_size: PageSize = 50, cursor: Cursor = None) -> Response:
    """The accounts the customer selected when authorising the consent, in opening order."""
    consent = call.consent
    assert consent.customer_ref is not None
    ids = {ref: acc_id for acc_id, ref in consent.accounts.items()}
    found = await call.services.core.accounts.list_accounts(
        call.core_context(),
        consent.customer_ref,
        PageRequest(page_size, cursor),
        only=frozenset(ids),
    )
    page: AccountPage = {
        "data": [_account(call, ids[a.core_ref], a) for a in found.items],
        "next_cursor": found.next_cursor,
    }
    return JsonResponse(page)


@router.get(
    "/{account_id}",
    summary="One consented account",
    openapi_extra=product("accounts.read", problems=[501, 503, 504]),
    response_model=AccountOut,
)
async def get_account(call: Call, account_id: AccountId) -> Response:
    """One account the customer selected for this consent."""
    accounts = call.services.core.accounts
    account = await accounts.get_account(call.core_context(), _account_ref(call, account_id))
    return JsonResponse(_account(call, account_id, account))


@router.get(
    "/{account_id}/balances",
    summary="Balances of a consented account",
    openapi_extra=product("accounts.balances.read", problems=[501, 503, 504]),
    response_model=BalancePage,
)
async def get_balances(call: Call, account_id: AccountId) -> Response:
    """The booked and available balances of one consented account, as of now."""
    accounts = call.services.core.accounts
    balances = await accounts.get_balances(call.core_context(), _account_ref(call, account_id))
    page: BalancePage = {
        "data": [
            {
                "account_id": account_id,
                "type": b.type.value,
                "amount": money(b.amount),
                "credit_debit": b.credit_debit,
                "as_of": b.as_of,
            }
            for b in balances
        ],
        "next_cursor": None,
    }
    return JsonResponse(page)


def _transaction(call: Call, account_id: str, txn: Transaction) -> TransactionOut:
    status: Literal["Booked", "Pending"] = "Pending" if txn.status == "Pending" else "Booked"
    return {
        "transaction_id": call.services.pairwise.transaction(call.partner_id, txn.core_ref),
        "account_id": account_id,
        "amount": money(txn.amount),
        "credit_debit": txn.credit_debit,
        "status": status,
        "booked_at": txn.booked_at,
        "description": txn.description,
        "counterparty": txn.counterparty,
    }


@router.get(
    "/{account_id}/transactions",
    summary="Transactions of a consented account",
    openapi_extra=product("accounts.transactions.read", problems=[501, 503, 504]),
    response_model=TransactionPage,
)
async def list_transactions(
    call: Call,
    account_id: AccountId,
    from_: From = None,
    to: To = None,
    page_size: PageSize = 50,
    cursor: Cursor = None,
) -> Response:
    """The booked and pending transactions of one consented account, newest first,
    optionally within `[from, to)`."""
    if from_ is not None and to is not None and from_ >= to:
        raise ValidationFailedError(EMPTY_WINDOW, errors=[FieldError("query.from", EMPTY_WINDOW)])
    found = await call.services.core.accounts.list_transactions(
        call.core_context(),
        _account_ref(call, account_id),
        TimeWindow(from_, to),
        PageRequest(page_size, cursor),
    )
    page: TransactionPage = {
        "data": [_transaction(call, account_id, t) for t in found.items],
        "next_cursor": found.next_cursor,
    }
    return JsonResponse(page)
