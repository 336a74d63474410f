"""authlib's view of our clients and requests.

authlib's server side is synchronous: the OAuth endpoints run it in a worker thread
(`run_in_threadpool`), and its hooks reach the async services with `anyio.from_thread`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

import anyio.from_thread
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload

from gateway.partners.models import Client, ClientKind
from policies.vocabulary import CUSTOMER_SCOPES

T = TypeVar("T")


def run_async(fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
    """Run an async service call from authlib's worker thread."""
    return anyio.from_thread.run(fn, *args)


class OAuthClient(ClientMixin):  # type: ignore[misc]
    """A registered client as authlib sees it."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def get_client_id(self) -> str:
        return self.client.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.client.redirect_uris[0] if self.client.redirect_uris else None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = set(self.client.scopes)
        if not scope:
            return " ".join(s for s in self.client.scopes if s not in CUSTOMER_SCOPES)
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.client.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return self.client.check_secret(client_secret)

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        if grant_type == "client_credentials":
            return True
        is_customer = bool(set(self.client.scopes) & set(CUSTOMER_SCOPES))
        return (
            self.client.kind == ClientKind.PARTNER
            and is_customer
            and bool(self.client.redirect_uris)
        )


class GatewayOAuth2Request(OAuth2Request):  # type: ignore[misc]
    """An already-parsed HTTP request, with the DPoP key thumbprint the route verified."""

    def __init__(
        self,
        method: str,
        uri: str,
        form: Mapping[str, str],
        headers: Mapping[str, str],
        dpop_jkt: str | None,
    ) -> None:
        super().__init__(method, uri, headers=headers)
        self._form = dict(form)
        self.payload = BasicOAuth2Payload(self._form)
        self.dpop_jkt = dpop_jkt

    @property
    def args(self) -> dict[str, str]:
        return {}

    @property
    def form(self) -> dict[str, str]:
        return self._form
