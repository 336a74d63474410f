"""The client's address: forwarded headers count only from trusted proxies, by one rule."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from gateway.app import create_app
from gateway.http.forwarded import ClientAddresses
from gateway.settings import ForwardedHeader, Settings
from tests.conftest import LiveServer, free_port, make_settings

PROXIES = Settings(trusted_proxies="10.0.0.0/8, 2001:db8:ffff::/48").trusted_proxies
SIGNUP = {"partner_name": "阳光小学", "sector": "school", "contact_email": "it@school.example"}


def xff(value: str) -> list[tuple[bytes, bytes]]:
    return [(b"x-forwarded-for", value.encode())]


class TestClientAddresses:
    def test_header_from_an_untrusted_peer_is_ignored(self) -> None:
        """A peer that is not a trusted proxy keeps its own address, whatever it forwards."""
        addresses = ClientAddresses(PROXIES)
        assert addresses.resolve("203.0.113.9", xff("198.51.100.7")) == "203.0.113.9"
        assert addresses.resolve("10.0.0.1", xff("198.51.100.7")) == "198.51.100.7"

    def test_nothing_is_trusted_by_default(self) -> None:
        """Without OBGW_TRUSTED_PROXIES even a loopback peer's header is ignored."""
        assert ClientAddresses().resolve("127.0.0.1", xff("198.51.100.7")) == "127.0.0.1"
        loopback = ClientAddresses(Settings(trusted_proxies="127.0.0.1").trusted_proxies)
        assert loopback.resolve("127.0.0.1", xff("198.51.100.7")) == "198.51.100.7"

    def test_the_right_most_untrusted_hop_is_the_client(self) -> None:
        """Hops a client wrote left of the first untrusted one are never read."""
        addresses = ClientAddresses(PROXIES)
        forwarded = xff("6.6.6.6, 198.51.100.7, 10.0.0.2")
        assert addresses.resolve("10.0.0.1", forwarded) == "198.51.100.7"
        assert addresses.resolve("10.0.0.1", xff("198.51.100.7, 10.0.0.2")) == "198.51.100.7"

    def test_a_chain_of_trusted_proxies_gives_its_left_most_hop(self) -> None:
        """When every hop is a trusted proxy, the left-most one is as far as we can see."""
        addresses = ClientAddresses(PROXIES)
        assert addresses.resolve("10.0.0.1", xff("10.0.0.3, 10.0.0.2")) == "10.0.0.3"

    def test_a_hop_that_is_not_an_address_stops_the_walk(self) -> None:
        """Garbage from a trusted proxy leaves the last address it vouched for."""
        addresses = ClientAddresses(PROXIES)
        assert addresses.resolve("10.0.0.1", xff("198.51.100.7, unknown, 10.0.0.2")) == "10.0.0.2"
        assert addresses.resolve("10.0.0.1", xff("198.51.100.7, 10.0.0.2")) == "198.51.100.7"

    def test_several_header_lines_are_one_list(self) -> None:
        """Repeated X-Forwarded-For lines read as one list, in order (RFC 9110 §5.3)."""
        addresses = ClientAddresses(PROXIES)
        headers = [*xff("6.6.6.6"), (b"accept", b"*/*"), *xff("198.51.100.7")]
        assert addresses.resolve("10.0.0.1", headers) == "198.51.100.7"

    def test_ports_brackets_and_mapped_addresses(self) -> None:
        """Hops with ports, bracketed IPv6 and IPv4-mapped IPv6 read as plain addresses."""
        addresses = ClientAddresses(PROXIES)
        assert addresses.resolve("10.0.0.1", xff("198.51.100.7:4711")) == "198.51.100.7"
        assert addresses.resolve("10.0.0.1", xff("[2001:db8::7]:443")) == "2001:db8::7"
        assert addresses.resolve("::ffff:10.0.0.1", xff("198.51.100.7")) == "198.51.100.7"
        assert addresses.resolve("2001:db8:ffff::1", xff("2001:db8::7")) == "2001:db8::7"

    def test_rfc_7239_forwarded(self) -> None:
        """With OBGW_FORWARDED_HEADER=forwarded the `for=` parameters are the hops."""
        addresses = ClientAddresses(PROXIES, ForwardedHeader.FORWARDED)
        header = [
            (
                b"forwarded",
                b'for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.2;by=x',
            )
        ]
        assert addresses.resolve("10.0.0.1", header) == "2001:db8:cafe::17"
        assert addresses.resolve("10.0.0.1", [(b"forwarded", b"for=_hidden")]) == "10.0.0.1"

    def test_only_the_configured_header_is_read(self) -> None:
        """A header the proxies do not write is the client's own: it is never read."""
        forwarded = ClientAddresses(PROXIES, ForwardedHeader.FORWARDED)
        assert forwarded.resolve("10.0.0.1", xff("198.51.100.7")) == "10.0.0.1"
        spoofed = [(b"forwarded", b"for=198.51.100.7")]
        assert ClientAddresses(PROXIES).resolve("10.0.0.1", spoofed) == "10.0.0.1"
        assert forwarded.resolve("10.0.0.1", spoofed) == "198.51.100.7"

    @given(
        written=st.lists(st.ip_addresses().map(str), max_size=5),
        client=st.ip_addresses(v=4).filter(lambda a: not a.is_private).map(str),
    )
    def test_nothing_a_client_writes_changes_its_address(
        self, written: list[str], client: str
    ) -> None:
        """Whatever hops the client prepends, the address the proxy saw wins."""
        header = ", ".join([*written, client, "10.0.0.2"])
        assert ClientAddresses(PROXIES).resolve("10.0.0.1", xff(header)) == client


class TestTrustedProxiesSetting:
    def test_addresses_and_networks(self) -> None:
        """OBGW_TRUSTED_PROXIES takes addresses and CIDR networks, comma- or space-separated."""
        proxies = Settings(trusted_proxies="10.0.0.0/8, 192.0.2.10 2001:db8::/32").trusted_proxies
        assert [str(p) for p in proxies] == ["10.0.0.0/8", "192.0.2.10/32", "2001:db8::/32"]
        assert Settings().trusted_proxies == ()

    def test_a_bad_entry_names_the_setting(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A value that is not an address stops the start-up, naming OBGW_TRUSTED_PROXIES."""
        monkeypatch.setenv("OBGW_TRUSTED_PROXIES", "10.0.0.0/8,ingress.local")
        with pytest.raises(ValidationError, match=r"OBGW_TRUSTED_PROXIES: 'ingress\.local'"):
            Settings()
        monkeypatch.setenv("OBGW_TRUSTED_PROXIES", "10.0.0.0/8")
        assert [str(p) for p in Settings().trusted_proxies] == ["10.0.0.0/8"]


async def _app(tmp_path: Path, **overrides: object) -> AsyncIterator[FastAPI]:
    application = create_app(make_settings(tmp_path, **overrides))
    async with application.router.lifespan_context(application):
        yield application


def _client(app: FastAPI, peer: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(peer, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000")


async def _signups(http: httpx.AsyncClient, forwarded: list[str]) -> list[int]:
    statuses = []
    for value in forwarded:
        response = await http.post(
            "/sandbox/signup", json=SIGNUP, headers={"X-Forwarded-For": value}
        )
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert int(response.headers["retry-after"]) > 0
    return statuses


class TestSignupLimitByAddress:
    async def test_spoofed_forwarded_for_does_not_bypass_the_limit(self, tmp_path: Path) -> None:
        """From an untrusted peer, fifteen forged X-Forwarded-For values share one bucket."""
        async for app in _app(tmp_path):
            async with _client(app, "127.0.0.1") as http:
                statuses = await _signups(http, [f"198.51.100.{i}" for i in range(15)])
        assert statuses == [201] * 10 + [429] * 5

    async def test_behind_a_trusted_proxy_each_client_has_its_own_bucket(
        self, tmp_path: Path
    ) -> None:
        """Behind a configured ingress the limit is per client, not one global bucket."""
        async for app in _app(tmp_path, trusted_proxies="10.0.0.0/8"):
            async with _client(app, "10.0.0.5") as http:
                first = await _signups(http, ["198.51.100.1"] * 11)
                other = await _signups(http, ["198.51.100.2"])
        assert first == [201] * 10 + [429]
        assert other == [201]

    async def test_a_client_behind_the_proxy_cannot_choose_its_hop(self, tmp_path: Path) -> None:
        """Hops the client prepends in front of the proxy's entry are not read."""
        async for app in _app(tmp_path, trusted_proxies="10.0.0.0/8"):
            async with _client(app, "10.0.0.5") as http:
                forged = [f"203.0.113.{i}, 198.51.100.1" for i in range(12)]
                statuses = await _signups(http, forged)
        assert statuses == [201] * 10 + [429] * 2

    def test_the_served_gateway_ignores_forwarded_headers_from_loopback(
        self, tmp_path: Path
    ) -> None:
        """Under uvicorn, as `obgw serve` runs it, a loopback client cannot forge addresses."""
        settings = make_settings(tmp_path, issuer=f"http://127.0.0.1:{free_port()}")

        async def run(url: str) -> list[int]:
            async with httpx.AsyncClient(base_url=url) as http:
                return await _signups(http, [f"198.51.100.{i}" for i in range(12)])

        with LiveServer(settings) as server:
            statuses = asyncio.run(run(server.url))
        assert statuses == [201] * 10 + [429] * 2
