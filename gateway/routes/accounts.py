"""Accounts and balances (A2: customer account information, through a consent)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path

from adapters.contract import Account
from gateway.deps import AccountsList, AccountsRead, Admitted, BalancesRead
from gateway.errors import NotFoundError
from gateway.routes.params import Cursor, PageSize
from gateway.routes.shape import day, listing, money, page, timestamp

router = APIRouter(prefix="/v1/accounts", tags=["Accounts"])
AccountId = Path(pattern=r"^acc_[a-z2-7]{1,64}$", description="An account id from /v1/accounts")


def _account_ref(call: Admitted, account_id: str) -> str:
    """The core reference of a consented account; anything else is simply not found."""
    ref = call.consent.accounts.get(account_id)
    if ref is None:
        raise NotFoundError("no such account under this consent")
    return ref


def _account_json(call: Admitted, account_id: str, account: Account) -> dict[str, Any]:
    body: dict[str, Any] = {
        "account_id": account_id,
        "account_type": account.account_type,
        "account_subtype": account.account_subtype,
        "nickname": account.nickname,
        "currency": account.currency,
        "status": account.status.value,
        "opened_on": day(account.opened_on),
    }
    if "ReadAccountsDetail" in call.consent.permissions:
        body["account_number"] = account.account_number
    return body


@router.get("", summary="The consented accounts")
async def list_accounts(
    call: AccountsList, page_size: PageSize = 50, cursor: Cursor = None
) -> dict[str, Any]:
    consent = call.consent
    assert consent.customer_ref is not None
    wanted = {ref: acc_id for acc_id, ref in consent.accounts.items()}
    accounts = await call.services.core.list_accounts(call.core_context, consent.customer_ref)
    selected = [(wanted[a.core_ref], a) for a in accounts if a.core_ref in wanted]
    chunk, next_cursor = page(selected, page_size, cursor)
    return listing([_account_json(call, i, a) for i, a in chunk], next_cursor)


@router.get("/{account_id}", summary="One consented account")
async def get_account(call: AccountsRead, account_id: str = AccountId) -> dict[str, Any]:
    account = await call.services.core.get_account(
        call.core_context, _account_ref(call, account_id)
    )
    return _account_json(call, account_id, account)


@router.get("/{account_id}/balances", summary="Balances of a consented account")
async def get_balances(call: BalancesRead, account_id: str = AccountId) -> dict[str, Any]:
    balances = await call.services.core.get_balances(
        call.core_context, _account_ref(call, account_id)
    )
    return listing(
        [
            {
                "account_id": account_id,
                "type": b.type.value,
                "amount": money(b.amount),
                "credit_debit": b.credit_debit,
                "as_of": timestamp(b.as_of),
            }
            for b in balances
        ],
        None,
    )
