"""Sandbox sign-up: validated before anything is written, written in one unit of work."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.app import create_app
from gateway.settings import Settings
from gateway.storage.tables import clients, partners
from tests.conftest import make_settings
from tests.factories import services_of

VALID = {"partner_name": "阳光小学", "sector": "school", "contact_email": "it@school.example"}


@pytest.fixture
def proxied_settings(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Settings:
    """Settings whose loopback peer is a trusted proxy: each test client names its address."""
    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else ""
    return make_settings(tmp_path, url, trusted_proxies="127.0.0.1")


@pytest.fixture
async def proxied_app(proxied_settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(proxied_settings)
    async with application.router.lifespan_context(application):
        yield application


async def counts(app: FastAPI) -> tuple[int, int]:
    """How many partners and clients the database holds (PostgreSQL's is shared by a session's
    tests: compare before and after)."""
    async with services_of(app).db.read() as conn:
        partner_count = (
            await conn.execute(sa.select(sa.func.count()).select_from(partners))
        ).scalar()
        client_count = (
            await conn.execute(sa.select(sa.func.count()).select_from(clients))
        ).scalar()
    return int(partner_count or 0), int(client_count or 0)


async def sign_up(client: httpx.AsyncClient, **fields: Any) -> httpx.Response:
    """POST a sign-up; the JSON is ASCII with escapes, so it may carry lone surrogates."""
    body = json.dumps({**VALID, **fields}).encode()
    return await client.post(
        "/sandbox/signup", content=body, headers={"Content-Type": "application/json"}
    )


def grown(before: tuple[int, int], by: int = 1) -> tuple[int, int]:
    return before[0] + by, before[1] + by


def error_paths(response: httpx.Response) -> set[str]:
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation-failed"
    return {e["path"] for e in response.json()["errors"]}


class TestSignupInput:
    async def test_a_nul_byte_is_refused_before_anything_is_written(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """A NUL in the name is a 422 naming the field, and nothing is stored."""
        before = await counts(app)
        assert error_paths(await sign_up(client, partner_name="阳光\x00小学")) == {"partner_name"}
        assert await counts(app) == before
        assert (await sign_up(client, partner_name="阳光小学")).status_code == 201
        assert await counts(app) == grown(before)

    @pytest.mark.parametrize(
        "text",
        ["a\nb", "tab\there", "bell\x07", "del\x7f", "rlo\u202etxt", "line\u2028sep", "\ud800"],
    )
    async def test_control_characters_in_any_text_field(
        self, app: FastAPI, client: httpx.AsyncClient, text: str
    ) -> None:
        """Control characters, separators, bidi overrides and lone surrogates are refused."""
        before = await counts(app)
        assert error_paths(await sign_up(client, partner_name=text)) == {"partner_name"}
        redirect = f"https://school.example/{text}"
        paths = error_paths(await sign_up(client, redirect_uris=[redirect]))
        assert paths in ({"redirect_uris"}, {"redirect_uris.0"})
        assert await counts(app) == before

    async def test_a_name_of_200_characters_is_accepted_and_201_is_not(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """The longest allowed name signs up; one character more is a 422, never a 500."""
        before = await counts(app)
        assert (await sign_up(client, partner_name="校" * 200)).status_code == 201
        assert error_paths(await sign_up(client, partner_name="校" * 201)) == {"partner_name"}
        assert await counts(app) == grown(before)

    @pytest.mark.parametrize(
        ("fields", "path"),
        [
            ({"partner_name": "   "}, "partner_name"),
            ({"sector": "bank"}, "sector"),
            ({"contact_email": "it@school"}, "contact_email"),
            ({"contact_email": "it..ops@school.example"}, "contact_email"),
            ({"contact_email": "it@school.example\nBcc: all@school.example"}, "contact_email"),
            ({"redirect_uris": [""]}, "redirect_uris.0"),
            ({"redirect_uris": ["https://a.example/cb"] * 6}, "redirect_uris"),
        ],
    )
    async def test_bad_fields_are_refused(
        self, app: FastAPI, client: httpx.AsyncClient, fields: dict[str, Any], path: str
    ) -> None:
        """Blank names, unknown sectors, bad e-mail addresses and bad URI lists are a 422."""
        before = await counts(app)
        assert path in error_paths(await sign_up(client, **fields))
        assert await counts(app) == before

    async def test_redirect_uris_pass_the_registry_rule_first(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """A redirect URI the registry would refuse is a 422 naming it; nothing is written."""
        before = await counts(app)
        response = await sign_up(
            client, redirect_uris=["https://school.example/cb", "ftp://school.example/cb"]
        )
        assert error_paths(response) == {"redirect_uris.1"}
        assert error_paths(await sign_up(client, redirect_uris=["https://x.example/#f"])) == {
            "redirect_uris.0"
        }
        assert await counts(app) == before
        accepted = await sign_up(client, redirect_uris=["https://school.example/cb"])
        assert accepted.status_code == 201
        assert accepted.json()["redirect_uris"] == ["https://school.example/cb"]
        assert await counts(app) == grown(before)

    async def test_internationalised_addresses_are_accepted(
        self, client: httpx.AsyncClient
    ) -> None:
        """An e-mail address on an internationalised domain is an e-mail address."""
        assert (await sign_up(client, contact_email="it@学校.中国")).status_code == 201


class TestSignupUnitOfWork:
    async def test_partner_and_client_commit_together_or_not_at_all(
        self, app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """If the client cannot be written, the partner is not written either."""
        before = await counts(app)
        registry = services_of(app).registry

        async def failing_insert(*args: object) -> None:
            raise RuntimeError("the database went away")

        monkeypatch.setattr(registry.clients, "insert", failing_insert)
        response = await sign_up(client)
        assert response.status_code == 500
        assert await counts(app) == before
        monkeypatch.undo()
        assert (await sign_up(client)).status_code == 201
        assert await counts(app) == grown(before)

    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        name=st.text(max_size=220),
        email=st.one_of(st.emails(), st.text(max_size=40)),
        uris=st.one_of(st.none(), st.lists(st.text(max_size=30), max_size=3)),
        sector=st.sampled_from(["school", "hospital", "bank", ""]),
    )
    async def test_fuzzed_sign_ups_never_fail_or_leave_orphans(
        self,
        proxied_app: FastAPI,
        name: str,
        email: str,
        uris: list[str] | None,
        sector: str,
    ) -> None:
        """Arbitrary sign-ups get a 201 or a 4xx; a 201 stores one partner with its client,
        anything else stores nothing."""
        transport = httpx.ASGITransport(app=proxied_app, client=("127.0.0.1", 50000))
        body: dict[str, Any] = {"partner_name": name, "sector": sector, "contact_email": email}
        if uris is not None:
            body["redirect_uris"] = uris
        address = f"198.51.{len(name) % 250}.{abs(hash((name, email))) % 250}"
        before = await counts(proxied_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
            response = await http.post(
                "/sandbox/signup", json=body, headers={"X-Forwarded-For": address}
            )
        assert response.status_code in (201, 422, 429), response.text
        created = 1 if response.status_code == 201 else 0
        assert await counts(proxied_app) == grown(before, created)
