"""The authorization-code flow around PAR: validate pushed requests, then complete them.

Both the HTML authorize pages and the sandbox's browserless `/sandbox/authorize` end in
`AuthorizationFlow.approve` or `deny`, so the two paths issue identical codes. Approval is
one unit of work: the pushed request is consumed, the consent authorised and the code
issued together, or none of it happens. A pushed request is usable only before it expires,
once, and while its client and partner are active.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlencode

from adapters.contract import Account, AccountStatus, Customer, PageRequest
from adapters.identity import ConsentTerms, CustomerAuthenticator
from adapters.resilience import CoreClient
from gateway.clock import utcnow
from gateway.consents.models import Consent
from gateway.consents.service import ConsentService
from gateway.ids import Pairwise
from gateway.oauth.attempts import AuthorizationAttempts
from gateway.oauth.codes import AuthorizationCodes
from gateway.oauth.pushed_requests import PushedRequest, PushedRequests
from gateway.oauth.requests import OAuthError
from gateway.partners.models import Client
from gateway.partners.redirect_uris import is_registered
from gateway.partners.service import Registry
from gateway.storage.database import Database
from policies.messages import Text
from policies.vocabulary import CUSTOMER_SCOPES, ConsentStatus, ConsentType

CODE_CHALLENGE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
JKT = re.compile(r"^[A-Za-z0-9_-]{43}$")
NO_CUSTOMER_LOGIN = Text(
    "Customer login is not available at this bank, so customer-consented scopes cannot be "
    "authorised; use partner-level scopes, or ask the bank when customer login opens.",
    "本行暂未开通客户登录，无法授权需客户同意的权限范围；请使用合作方级别的权限范围，"
    "或向银行咨询客户登录的开通时间。",
)
NOT_THE_CUSTOMERS = Text(
    "An account that is not the customer's was selected.", "所选账户不属于该客户。"
)
NO_ACCOUNT = Text("Select at least one account.", "请至少选择一个账户。")
ONE_DEBTOR_ACCOUNT = Text(
    "A payment is made from exactly one account: choose the one account to pay from.",
    "一笔付款只能从一个账户支付：请选择一个付款账户。",
)


@dataclass(frozen=True, slots=True)
class Completion:
    redirect_to: str


class Unusable(StrEnum):
    """Why a pushed request cannot be used."""

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"
    LOCKED = "locked"
    CLIENT_INACTIVE = "client_inactive"


UNUSABLE_TEXT = {
    Unusable.UNKNOWN: Text(
        "The request_uri is unknown or belongs to another client: push a new request.",
        "request_uri 不存在或属于其他客户端：请重新推送授权请求。",
    ),
    Unusable.EXPIRED: Text(
        "The request_uri has expired: push a new request.",
        "request_uri 已过期：请重新推送授权请求。",
    ),
    Unusable.USED: Text(
        "The request_uri was already used: push a new request.",
        "request_uri 已被使用：请重新推送授权请求。",
    ),
    Unusable.LOCKED: Text(
        "The request was locked after too many failed customer logins: push a new request.",
        "客户登录失败次数过多，该授权请求已被锁定：请重新推送授权请求。",
    ),
    Unusable.CLIENT_INACTIVE: Text(
        "The client or its partner is suspended or revoked.",
        "该客户端或其所属合作方已被暂停或撤销。",
    ),
}


class AccountChoiceError(OAuthError):
    """The customer's choice of accounts cannot be authorised (they may choose again)."""

    def __init__(self, description: Text) -> None:
        super().__init__("invalid_request", description)
        self.text = description


class ConsentUnavailable(OAuthError):
    """The consent was revoked, has expired or changed since the customer saw it."""

    def __init__(self) -> None:
        super().__init__(
            "invalid_request",
            Text(
                "The consent can no longer be authorised (it was revoked, expired or changed).",
                "该授权同意已无法授权（已被撤销、已过期或已变更）。",
            ),
        )


class RequestUnusable(OAuthError):
    """A pushed request that cannot be used: why, and the request when it is genuine
    (it exists and belongs to the client that named it)."""

    def __init__(self, reason: Unusable, pushed: PushedRequest | None = None) -> None:
        inactive = reason is Unusable.CLIENT_INACTIVE
        super().__init__(
            "unauthorized_client" if inactive else "invalid_request_uri",
            UNUSABLE_TEXT[reason],
            403 if inactive else 400,
        )
        self.reason = reason
        self.pushed = pushed


def _not_consumed(pushed: PushedRequest) -> RequestUnusable:
    expired = pushed.expires_at <= utcnow()
    return RequestUnusable(Unusable.EXPIRED if expired else Unusable.USED, pushed)


def terms_of(consent: Consent) -> ConsentTerms:
    """The terms of a consent as the customer approves them, from the stored consent."""
    payment = consent.payment or {}
    amount = payment.get("amount") or {}
    creditor = payment.get("creditor") or {}
    return ConsentTerms(
        consent_id=consent.id,
        permissions=consent.permissions,
        amount=amount.get("value"),
        currency=amount.get("currency"),
        creditor_name=creditor.get("name"),
        creditor_account=creditor.get("account_number"),
        reference=payment.get("reference"),
    )


class AuthorizationFlow:
    """PAR validation and the approve/deny step that mints the authorization code."""

    def __init__(
        self,
        *,
        issuer: str,
        db: Database,
        consents: ConsentService,
        registry: Registry,
        attempts: AuthorizationAttempts,
        customers: CustomerAuthenticator | None,
        core: CoreClient,
        pairwise: Pairwise,
        code_ttl: int,
        par_ttl: int,
    ) -> None:
        self.issuer = issuer
        self.db = db
        self.requests = PushedRequests()
        self.codes = AuthorizationCodes()
        self.consents = consents
        self.registry = registry
        self.attempts = attempts
        self.customers = customers
        self.core = core
        self.pairwise = pairwise
        self.code_ttl = code_ttl
        self.par_ttl = par_ttl

    async def push(
        self, client: Client, form: dict[str, str], proof_jkt: str | None
    ) -> PushedRequest:
        """Validate a pushed authorization request (RFC 9126) and store it."""
        if "request_uri" in form or "request" in form:
            raise OAuthError(
                "invalid_request",
                Text(
                    "'request_uri' and 'request' are not allowed at the PAR endpoint.",
                    "PAR 端点不接受 request_uri 或 request 参数。",
                ),
            )
        if form.get("client_id", client.client_id) != client.client_id:
            raise OAuthError(
                "invalid_request",
                Text(
                    "'client_id' does not match the authenticated client.",
                    "client_id 与认证的客户端不一致。",
                ),
            )
        if form.get("response_type") != "code":
            raise OAuthError(
                "unsupported_response_type",
                Text("Only response_type=code is supported.", "仅支持 response_type=code。"),
            )
        redirect_uri = form.get("redirect_uri", "")
        if not is_registered(redirect_uri, client.redirect_uris):
            raise OAuthError(
                "invalid_request",
                Text(
                    "'redirect_uri' is not registered for this client: use a registered one.",
                    "redirect_uri 未在该客户端登记：请使用已登记的地址。",
                ),
            )
        method = form.get("code_challenge_method")
        if method != "S256":
            raise OAuthError(
                "invalid_request",
                Text(
                    "PKCE with code_challenge_method=S256 is required.",
                    "必须使用 PKCE，且 code_challenge_method=S256。",
                ),
            )
        if not CODE_CHALLENGE.match(form.get("code_challenge", "")):
            raise OAuthError(
                "invalid_request",
                Text(
                    "'code_challenge' is missing or malformed (43-128 characters, RFC 7636).",
                    "code_challenge 缺失或格式错误（应为 43 至 128 个字符，见 RFC 7636）。",
                ),
            )
        state = form.get("state", "")
        if len(state) > 512:
            raise OAuthError(
                "invalid_request",
                Text("'state' is longer than 512 characters.", "state 长度不能超过 512 个字符。"),
            )
        dpop_jkt = form.get("dpop_jkt") or None
        if dpop_jkt is not None and not JKT.match(dpop_jkt):
            raise OAuthError(
                "invalid_request",
                Text(
                    "'dpop_jkt' is not a JWK SHA-256 thumbprint.",
                    "dpop_jkt 不是 JWK SHA-256 指纹。",
                ),
            )
        if proof_jkt is not None:
            if dpop_jkt is not None and dpop_jkt != proof_jkt:
                raise OAuthError(
                    "invalid_dpop_proof",
                    Text(
                        "'dpop_jkt' differs from the DPoP proof's key.",
                        "dpop_jkt 与 DPoP 证明的密钥不一致。",
                    ),
                )
            dpop_jkt = proof_jkt
        scopes = form.get("scope", "").split()
        if not scopes or any(s not in client.scopes for s in scopes):
            raise OAuthError(
                "invalid_scope",
                Text(
                    "'scope' must be a subset of the client's scopes.",
                    "scope 必须是该客户端已获授权限范围的子集。",
                ),
            )
        customer_scopes = {s for s in scopes if s in CUSTOMER_SCOPES}
        if not customer_scopes:
            raise OAuthError(
                "invalid_scope",
                Text(
                    "The code flow is for customer-consented scopes.",
                    "授权码流程仅用于需客户同意的权限范围。",
                ),
            )
        if self.customers is None:
            raise OAuthError(
                "temporarily_unavailable", NO_CUSTOMER_LOGIN, 503, code="customer-login-unavailable"
            )
        consent_id = form.get("consent_id", "")
        consent = await self.consents.get(consent_id) if consent_id else None
        if consent is None or consent.client_id != client.client_id:
            raise OAuthError(
                "invalid_request",
                Text(
                    "'consent_id' must name a consent of this client.",
                    "consent_id 必须是该客户端创建的授权同意。",
                ),
            )
        if consent.status is not ConsentStatus.AWAITING_AUTHORISATION:
            raise OAuthError(
                "invalid_request",
                Text(
                    "The consent is {status}: only a consent awaiting authorisation can be pushed.",
                    "该授权同意的状态为 {status}：只有待授权的同意才能推送。",
                ).format(status=consent.status.value),
            )
        if customer_scopes != {consent.scope}:
            raise OAuthError(
                "invalid_scope",
                Text(
                    "A {type} consent needs scope '{scope}'.",
                    "{type} 类型的授权同意需要权限范围 {scope}。",
                ).format(type=consent.type.value, scope=consent.scope),
            )
        params = {
            "client_id": client.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(dict.fromkeys(scopes)),
            "state": state,
            "code_challenge": form["code_challenge"],
            "code_challenge_method": method,
            "consent_id": consent_id,
            "dpop_jkt": dpop_jkt,
        }
        async with self.db.transaction() as uow:
            return await self.requests.insert(uow.conn, client.client_id, params, self.par_ttl)

    async def pending(self, client_id: str, request_uri: str) -> PushedRequest:
        """The pushed request behind `request_uri`, if it is this client's and still usable;
        else `RequestUnusable` saying why."""
        async with self.db.read() as conn:
            found = await self.requests.lookup(conn, request_uri)
        if found is None or found[0].client_id != client_id:
            raise RequestUnusable(Unusable.UNKNOWN)
        pushed, is_used = found
        if is_used:
            locked = await self.attempts.is_request_locked(request_uri)
            raise RequestUnusable(Unusable.LOCKED if locked else Unusable.USED, pushed)
        if pushed.expires_at <= utcnow():
            raise RequestUnusable(Unusable.EXPIRED, pushed)
        await self._require_active(pushed)
        return pushed

    async def _require_active(self, pushed: PushedRequest) -> None:
        if await self.registry.active_client(pushed.client_id) is None:
            raise RequestUnusable(Unusable.CLIENT_INACTIVE, pushed)

    async def invalidate(self, pushed: PushedRequest) -> None:
        """Make a pushed request unusable (too many failed attempts)."""
        async with self.db.transaction() as uow:
            await self.requests.consume(uow.conn, pushed.request_uri, check_expiry=False)

    async def accounts_of(self, partner_id: str, customer: Customer) -> list[Account]:
        """Every account of the customer, across the core's pages."""
        accounts: list[Account] = []
        page = PageRequest(size=200)
        while True:
            chunk = await self.core.accounts.list_accounts(
                self.core.context(partner_id), customer.core_ref, page
            )
            accounts.extend(chunk.items)
            if chunk.next_cursor is None:
                return accounts
            page = PageRequest(size=200, cursor=chunk.next_cursor)

    def redirect(self, pushed: PushedRequest, **params: str) -> str:
        """The client's redirect URI with `params`, `state` and `iss` (RFC 9207)."""
        query = {**params, "iss": self.issuer}
        if pushed.params.get("state"):
            query["state"] = pushed.params["state"]
        separator = "&" if "?" in pushed.params["redirect_uri"] else "?"
        return str(pushed.params["redirect_uri"]) + separator + urlencode(query)

    async def approve(
        self,
        pushed: PushedRequest,
        partner_id: str,
        customer: Customer,
        selected: list[str] | None,
        *,
        terms_digest: str | None = None,
    ) -> Completion:
        """Authorise the consent for the selected accounts and issue the code.

        `selected` holds partner-facing account ids; None means every account, or for a
        payment the customer's first enabled account. With `terms_digest`, the consent must
        still have the terms the customer confirmed.
        """
        await self._require_active(pushed)
        consent_id = pushed.params["consent_id"]
        consent = await self.consents.get(consent_id)
        if consent is None:
            raise ConsentUnavailable()
        accounts = await self.accounts_of(partner_id, customer)
        chosen = self._choose(partner_id, consent.type, accounts, selected)
        psu_id = self.pairwise.customer(partner_id, customer.core_ref)
        async with self.db.transaction() as uow:
            if not await self.requests.consume(uow.conn, pushed.request_uri):
                raise _not_consumed(pushed)
            if terms_digest is not None:
                consent = await self.consents.store.get(uow.conn, consent_id, for_update=True)
                if consent is None or terms_of(consent).digest() != terms_digest:
                    raise ConsentUnavailable()
            if not await self.consents.store.authorise(
                uow.conn, consent_id, customer_ref=customer.core_ref, psu_id=psu_id, accounts=chosen
            ):
                raise ConsentUnavailable()
            code = await self.codes.create(
                uow.conn,
                ttl=self.code_ttl,
                client_id=pushed.client_id,
                redirect_uri=pushed.params["redirect_uri"],
                scope=pushed.params["scope"],
                consent_id=consent_id,
                customer_ref=customer.core_ref,
                code_challenge=pushed.params["code_challenge"],
                code_challenge_method=pushed.params["code_challenge_method"],
                dpop_jkt=pushed.params.get("dpop_jkt"),
            )
        return Completion(self.redirect(pushed, code=code))

    def _choose(
        self,
        partner_id: str,
        consent_type: ConsentType,
        accounts: list[Account],
        selected: list[str] | None,
    ) -> dict[str, str]:
        """The chosen accounts, partner-facing id to core reference: any number of the
        customer's accounts, but exactly one (the debtor account) for a payment."""
        by_id = {self.pairwise.account(partner_id, a.core_ref): a for a in accounts}
        is_payment = consent_type is ConsentType.PAYMENT
        if selected is None:
            picked = accounts
            if is_payment:
                # The first enabled account; with none enabled, the first one, so that a
                # payment from a frozen account can still be tried (the core refuses it).
                enabled = [a for a in accounts if a.status is AccountStatus.ENABLED]
                picked = (enabled or accounts)[:1]
            ids = [self.pairwise.account(partner_id, a.core_ref) for a in picked]
        else:
            ids = list(dict.fromkeys(selected))
            if any(i not in by_id for i in ids):
                raise AccountChoiceError(NOT_THE_CUSTOMERS)
        if is_payment and len(ids) != 1:
            raise AccountChoiceError(ONE_DEBTOR_ACCOUNT)
        if not ids:
            raise AccountChoiceError(NO_ACCOUNT)
        return {i: by_id[i].core_ref for i in ids}

    async def deny(self, pushed: PushedRequest) -> Completion:
        """The customer declined: reject the consent and send `access_denied` back."""
        async with self.db.transaction() as uow:
            if not await self.requests.consume(uow.conn, pushed.request_uri):
                raise _not_consumed(pushed)
            await self.consents.store.set_status(
                uow.conn,
                pushed.params["consent_id"],
                ConsentStatus.REJECTED,
                only_from=(ConsentStatus.AWAITING_AUTHORISATION,),
            )
        return Completion(
            self.redirect(pushed, error="access_denied", error_description="the customer declined")
        )
