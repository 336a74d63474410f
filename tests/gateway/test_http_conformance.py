"""HTTP outside OAuth: HEAD, Allow, media types, body limits, languages, interaction ids and
caching of answers that carry credentials."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import Route

from tests.conftest import LiveServer, free_port, make_settings
from tests.factories import (
    CALLBACK,
    consent,
    customer_grant,
    ops_token,
    partner_token,
    pkce_pair,
    sandbox_partner,
)

SQLITE = pytest.mark.parametrize("backend", ["sqlite"])
CONSENT = {"type": "account_access", "permissions": ["ReadBalances"]}
DYNAMIC = {"/metrics", "/ops/traces"}  # bodies that change from one request to the next
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def example_path(template: str, values: dict[str, str]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: values.get(m.group(1), "x1"), template)


@pytest.fixture
async def tokens(app: FastAPI, client: httpx.AsyncClient) -> dict[str, str]:
    """A partner token, a customer token and an ops token, and ids they can read."""
    partner = await sandbox_partner(client)
    partner_access = await partner_token(client, partner, "products consents")
    grant = await customer_grant(client, partner, dpop=False)
    accounts = await client.get(
        "/v1/accounts", headers={"Authorization": f"Bearer {grant.access_token}"}
    )
    return {
        "partner": partner_access,
        "customer": grant.access_token,
        "ops": await ops_token(app, client),
        "consent_id": grant.consent_id,
        "account_id": accounts.json()["data"][0]["account_id"],
    }


@SQLITE
class TestHead:
    async def test_every_get_route_answers_head_like_get(
        self, app: FastAPI, client: httpx.AsyncClient, tokens: dict[str, str]
    ) -> None:
        """HEAD on every GET route gives GET's status and headers, without a body."""
        values = {"consent_id": tokens["consent_id"], "account_id": tokens["account_id"]}
        checked = succeeded = 0
        for route in app.router.routes:
            if not isinstance(route, Route) or "GET" not in (route.methods or ()):
                continue
            path = example_path(route.path, values)
            token = tokens["partner"]
            if path.startswith(("/v1/accounts", "/v1/customer")):
                token = tokens["customer"]
            elif path.startswith("/ops"):
                token = tokens["ops"]
            headers = {"Authorization": f"Bearer {token}", "X-Request-ID": "same-id"}
            got = await client.get(path, headers=headers)
            head = await client.head(path, headers=headers)
            assert head.status_code == got.status_code, path
            assert head.content == b"", path
            names = ["content-type", "cache-control", "content-language"]
            if path not in DYNAMIC:
                names.append("content-length")
            for name in names:
                assert head.headers.get(name) == got.headers.get(name), (path, name)
            checked += 1
            succeeded += got.status_code == 200
        assert checked >= 15
        assert succeeded >= 12


@SQLITE
class TestAllow:
    async def test_a_consent_path_lists_all_its_methods(
        self, client: httpx.AsyncClient, tokens: dict[str, str]
    ) -> None:
        """A 405 on /v1/consents/{id} lists GET, HEAD and DELETE, which all work."""
        path = f"/v1/consents/{tokens['consent_id']}"
        headers = {"Authorization": f"Bearer {tokens['partner']}"}
        for method in ("PUT", "POST", "PATCH", "OPTIONS"):
            response = await client.request(method, path, headers=headers)
            assert response.status_code == 405, method
            assert response.json()["code"] == "method-not-allowed"
            assert response.headers["allow"] == "GET, HEAD, DELETE"
        assert (await client.get(path, headers=headers)).status_code == 200
        assert (await client.head(path, headers=headers)).status_code == 200
        assert (await client.delete(path, headers=headers)).status_code == 204

    async def test_every_path_lists_every_method_it_serves(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """For each path, a method no route serves there gets Allow with all that do."""
        served: dict[str, set[str]] = {}
        for route in app.router.routes:
            if isinstance(route, Route):
                methods = set(route.methods or ())
                if "GET" in methods:
                    methods.add("HEAD")
                served.setdefault(example_path(route.path, {}), set()).update(methods)
        for path, methods in served.items():
            unserved = next(m for m in METHODS if m not in methods)
            response = await client.request(unserved, path)
            assert response.status_code == 405, (unserved, path)
            allowed = {m.strip() for m in response.headers["allow"].split(",")}
            assert allowed == methods, path

    async def test_an_unknown_path_is_not_found(self, client: httpx.AsyncClient) -> None:
        """A path nothing serves is a 404 whatever the method, with no Allow."""
        response = await client.put("/v1/nothing-here")
        assert response.status_code == 404
        assert "allow" not in response.headers


@SQLITE
class TestMediaType:
    @pytest.mark.parametrize(
        "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", None]
    )
    async def test_a_body_that_is_not_json_is_415(
        self, client: httpx.AsyncClient, tokens: dict[str, str], content_type: str | None
    ) -> None:
        """A non-JSON body to a JSON endpoint is 415 unsupported-media-type, not 400."""
        headers = {"Authorization": f"Bearer {tokens['partner']}"}
        if content_type:
            headers["Content-Type"] = content_type
        body = b'{"type":"account_access","permissions":["ReadBalances"]}'
        response = await client.post("/v1/consents", content=body, headers=headers)
        assert response.status_code == 415, response.text
        assert response.json()["code"] == "unsupported-media-type"
        assert response.headers["accept-post"] == "application/json"

    @pytest.mark.parametrize(
        "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"]
    )
    async def test_json_is_accepted(
        self, client: httpx.AsyncClient, tokens: dict[str, str], content_type: str
    ) -> None:
        """The same body as JSON, with or without a charset, is read."""
        headers = {"Authorization": f"Bearer {tokens['partner']}", "Content-Type": content_type}
        body = b'{"type":"account_access","permissions":["ReadBalances"]}'
        response = await client.post("/v1/consents", content=body, headers=headers)
        assert response.status_code == 201, response.text

    async def test_sandbox_json_endpoints_too(self, client: httpx.AsyncClient) -> None:
        """Sign-up takes JSON only; JSON with its right content type signs up."""
        body = b'{"partner_name":"a","sector":"school","contact_email":"it@school.example"}'
        plain = await client.post(
            "/sandbox/signup", content=body, headers={"Content-Type": "text/plain"}
        )
        assert plain.status_code == 415
        json_ = await client.post(
            "/sandbox/signup", content=body, headers={"Content-Type": "application/json"}
        )
        assert json_.status_code == 201


class TestBodyLimit:
    def test_a_chunked_body_over_the_limit_is_413_on_the_wire(self, tmp_path: Path) -> None:
        """Through uvicorn, a chunked JSON body over 64 KiB is 413; a small chunked one is read."""
        settings = make_settings(tmp_path, issuer=f"http://127.0.0.1:{free_port()}")

        async def chunks(size: int, body: bytes = b""):  # type: ignore[no-untyped-def]
            yield body
            for _ in range(size):
                yield b" " * 1024

        async def run(url: str) -> tuple[int, str, int]:
            async with httpx.AsyncClient(base_url=url) as http:
                partner = await sandbox_partner(http)
                token = await partner_token(http, partner, "consents")
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                big = await http.post("/v1/consents", content=chunks(80), headers=headers)
                small = await http.post(
                    "/v1/consents",
                    content=chunks(2, b'{"type":"account_access","permissions":["ReadBalances"]}'),
                    headers=headers,
                )
                return big.status_code, big.json()["code"], small.status_code

        with LiveServer(settings) as server:
            big, code, small = asyncio.run(run(server.url))
        assert (big, code) == (413, "payload-too-large")
        assert small == 201


@SQLITE
class TestLanguages:
    @pytest.mark.parametrize(
        ("accept_language", "language", "title"),
        [
            ("en;q=0.4, zh-CN;q=0.8", "zh-CN", "资源不存在"),
            ("zh-CN;q=0.1, en;q=0.9", "en", "Resource not found"),
            ("zh;q=0, *;q=0.5", "en", "Resource not found"),
            ("zh-Hans-CN", "zh-CN", "资源不存在"),
        ],
    )
    async def test_quality_values_pick_the_language(
        self, client: httpx.AsyncClient, accept_language: str, language: str, title: str
    ) -> None:
        """The highest-weighted language we speak wins, and Content-Language says which."""
        response = await client.get("/v1/nothing", headers={"Accept-Language": accept_language})
        assert response.headers["content-language"] == language
        assert response.json()["title"] == title

    @pytest.mark.parametrize("path", ["/", "/problems/not-found"])
    async def test_bilingual_pages_say_so(self, client: httpx.AsyncClient, path: str) -> None:
        """The portal and the problem pages are in Chinese and English, and say both."""
        response = await client.get(path)
        assert response.status_code == 200
        assert response.headers["content-language"] == "zh-CN, en"


@SQLITE
class TestInteractionId:
    async def test_one_is_generated_when_the_client_sends_none(
        self, client: httpx.AsyncClient
    ) -> None:
        """Without x-fapi-interaction-id each answer carries a fresh UUID; a sent one is echoed."""
        first = (await client.get("/healthz")).headers["x-fapi-interaction-id"]
        second = (await client.get("/healthz")).headers["x-fapi-interaction-id"]
        assert uuid.UUID(first).version == 4
        assert first != second
        sent = str(uuid.uuid4())
        echoed = await client.get("/healthz", headers={"x-fapi-interaction-id": sent})
        assert echoed.headers["x-fapi-interaction-id"] == sent


@SQLITE
class TestCredentialsAreNotStored:
    async def test_sandbox_answers_with_secrets_are_no_store(
        self, client: httpx.AsyncClient
    ) -> None:
        """Sign-up, test customers and the browserless consent are never stored by a cache."""
        signup = await client.post(
            "/sandbox/signup",
            json={"partner_name": "a", "sector": "school", "contact_email": "it@school.example"},
        )
        partner = signup.json()
        auth = (partner["client_id"], partner["client_secret"])
        customers = await client.get("/sandbox/customers", auth=auth)
        token = (
            await client.post(
                "/oauth/token",
                data={"grant_type": "client_credentials", "scope": "consents"},
                auth=auth,
            )
        ).json()["access_token"]
        consent_id = await consent(client, token)
        _, challenge = pkce_pair()
        par = await client.post(
            "/oauth/par",
            data={
                "response_type": "code",
                "client_id": partner["client_id"],
                "redirect_uri": CALLBACK,
                "scope": "accounts",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "consent_id": consent_id,
            },
            auth=auth,
        )
        authorize = await client.post(
            "/sandbox/authorize",
            json={"request_uri": par.json()["request_uri"], "customer": "zhang.wei"},
            auth=auth,
        )
        for response in (signup, customers, authorize):
            assert response.status_code in (200, 201), response.text
            assert response.headers["cache-control"] == "no-store"
            assert response.headers["pragma"] == "no-cache"

    async def test_product_information_is_not_marked(
        self, client: httpx.AsyncClient, tokens: dict[str, str]
    ) -> None:
        """A1 product information carries no such header: the mark is where it is needed."""
        response = await client.get(
            "/v1/products/deposits", headers={"Authorization": f"Bearer {tokens['partner']}"}
        )
        assert response.status_code == 200
        assert "cache-control" not in response.headers
        assert "pragma" not in response.headers
