"""The authorization-code flow around PAR: validate pushed requests, then complete them.

Both the HTML authorize pages and the sandbox's browserless `/sandbox/authorize` end in
`AuthorizationFlow.approve` or `deny`, so the two paths issue identical codes. Approval is
one unit of work: the pushed request is consumed, the consent authorised and the code
issued together, or none of it happens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from adapters.contract import Account, Customer, PageRequest
from adapters.resilience import CoreClient
from gateway.consents.service import ConsentService
from gateway.ids import Pairwise
from gateway.oauth.codes import AuthorizationCodes
from gateway.oauth.pushed_requests import PushedRequest, PushedRequests
from gateway.oauth.requests import OAuthError
from gateway.partners.models import Client
from gateway.storage.database import Database
from policies.vocabulary import CUSTOMER_SCOPES, ConsentStatus

CODE_CHALLENGE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
JKT = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True, slots=True)
class Completion:
    redirect_to: str


class AuthorizationFlow:
    """PAR validation and the approve/deny step that mints the authorization code."""

    def __init__(
        self,
        *,
        issuer: str,
        db: Database,
        consents: ConsentService,
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
        self.core = core
        self.pairwise = pairwise
        self.code_ttl = code_ttl
        self.par_ttl = par_ttl

    async def push(
        self, client: Client, form: dict[str, str], proof_jkt: str | None
    ) -> PushedRequest:
        """Validate a pushed authorization request (RFC 9126) and store it."""
        if "request_uri" in form or "request" in form:
            raise OAuthError("invalid_request", "'request_uri' is not allowed at the PAR endpoint")
        if form.get("client_id", client.client_id) != client.client_id:
            raise OAuthError(
                "invalid_request", "'client_id' does not match the authenticated client"
            )
        if form.get("response_type") != "code":
            raise OAuthError("unsupported_response_type", "only response_type=code is supported")
        redirect_uri = form.get("redirect_uri", "")
        if redirect_uri not in client.redirect_uris:
            raise OAuthError("invalid_request", "'redirect_uri' is not registered for this client")
        method = form.get("code_challenge_method")
        if method != "S256":
            raise OAuthError("invalid_request", "PKCE with code_challenge_method=S256 is required")
        if not CODE_CHALLENGE.match(form.get("code_challenge", "")):
            raise OAuthError("invalid_request", "'code_challenge' is missing or malformed")
        state = form.get("state", "")
        if len(state) > 512:
            raise OAuthError("invalid_request", "'state' is longer than 512 characters")
        dpop_jkt = form.get("dpop_jkt") or None
        if dpop_jkt is not None and not JKT.match(dpop_jkt):
            raise OAuthError("invalid_request", "'dpop_jkt' is not a JWK SHA-256 thumbprint")
        if proof_jkt is not None:
            if dpop_jkt is not None and dpop_jkt != proof_jkt:
                raise OAuthError("invalid_dpop_proof", "'dpop_jkt' differs from the DPoP proof key")
            dpop_jkt = proof_jkt
        scopes = form.get("scope", "").split()
        if not scopes or any(s not in client.scopes for s in scopes):
            raise OAuthError("invalid_scope", "'scope' must be a subset of the client's scopes")
        customer_scopes = {s for s in scopes if s in CUSTOMER_SCOPES}
        if not customer_scopes:
            raise OAuthError("invalid_scope", "the code flow is for customer-consented scopes")
        consent_id = form.get("consent_id", "")
        consent = await self.consents.get(consent_id) if consent_id else None
        if consent is None or consent.client_id != client.client_id:
            raise OAuthError("invalid_request", "'consent_id' must name a consent of this client")
        if consent.status is not ConsentStatus.AWAITING_AUTHORISATION:
            raise OAuthError("invalid_request", f"the consent is {consent.status.value}")
        if customer_scopes != {consent.scope}:
            raise OAuthError(
                "invalid_scope", f"a {consent.type.value} consent needs scope '{consent.scope}'"
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

    async def pending(
        self, client_id: str, request_uri: str, *, check_expiry: bool = True
    ) -> PushedRequest:
        """The pushed request behind `request_uri`, if it is this client's and still usable."""
        async with self.db.read() as conn:
            pushed = await self.requests.get(conn, request_uri, check_expiry=check_expiry)
        if pushed is None or pushed.client_id != client_id:
            raise OAuthError("invalid_request_uri", "the request_uri is unknown, used or expired")
        return pushed

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

    def _redirect(self, pushed: PushedRequest, **params: str) -> str:
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
    ) -> Completion:
        """Authorise the consent for the selected accounts and issue the code.

        `selected` holds partner-facing account ids; None means every account.
        """
        accounts = await self.accounts_of(partner_id, customer)
        by_id = {self.pairwise.account(partner_id, a.core_ref): a.core_ref for a in accounts}
        chosen = by_id if selected is None else {i: by_id[i] for i in selected if i in by_id}
        if selected is not None and len(chosen) != len(set(selected)):
            raise OAuthError("invalid_request", "an unknown account was selected")
        if not chosen:
            raise OAuthError("invalid_request", "select at least one account")
        consent_id = pushed.params["consent_id"]
        psu_id = self.pairwise.customer(partner_id, customer.core_ref)
        async with self.db.transaction() as uow:
            if not await self.requests.consume(uow.conn, pushed.request_uri, check_expiry=False):
                raise OAuthError("invalid_request_uri", "the request_uri was already used")
            if not await self.consents.store.authorise(
                uow.conn, consent_id, customer_ref=customer.core_ref, psu_id=psu_id, accounts=chosen
            ):
                raise OAuthError("invalid_request", "the consent can no longer be authorised")
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
        return Completion(self._redirect(pushed, code=code))

    async def deny(self, pushed: PushedRequest) -> Completion:
        async with self.db.transaction() as uow:
            if not await self.requests.consume(uow.conn, pushed.request_uri, check_expiry=False):
                raise OAuthError("invalid_request_uri", "the request_uri was already used")
            await self.consents.store.set_status(
                uow.conn,
                pushed.params["consent_id"],
                ConsentStatus.REJECTED,
                only_from=(ConsentStatus.AWAITING_AUTHORISATION,),
            )
        return Completion(
            self._redirect(pushed, error="access_denied", error_description="the customer declined")
        )
