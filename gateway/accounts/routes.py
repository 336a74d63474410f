"""Accounts and balances (A2: customer account information, through a consent)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.responses import Response

from adapters.contract import Account, PageRequest
from gateway.accounts.schemas import AccountIdPattern, AccountOut, BalanceOut
from gateway.deps import Call, CallRoute
from gateway.errors import NotFoundError
from gateway.http.params import Cursor, PageSize
from gateway.http.responses import JsonResponse
from gateway.http.routing import product
from gateway.http.schemas import Page, money
from policies.masking import mask_account_number
from policies.messages import Text

router = APIRouter(prefix="/v1/accounts", tags=["Accounts"], route_class=CallRoute)
AccountPage = Page[AccountOut]
BalancePage = Page[BalanceOut]
AccountId = Annotated[
    str, Path(pattern=AccountIdPattern, description="An account id from /v1/accounts")
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
