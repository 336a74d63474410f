"""The consent cache: one lookup per consent under concurrency, revocations respected."""

from __future__ import annotations

import asyncio

from policies.consent import ConsentCache
from policies.pipeline import ConsentView
from policies.replay import MemoryReplayCache
from policies.revocation import RevocationList


def view(status: str = "Authorised") -> ConsentView:
    return ConsentView(
        id="cns_a",
        partner_id="ptn",
        client_id="cli",
        type="account_access",
        status=status,
        permissions=frozenset({"ReadBalances"}),
        expires_at=None,
        customer_ref="c",
        psu_id="psu",
        accounts={},
    )


class SlowLookup:
    def __init__(self) -> None:
        self.calls = 0
        self.status = "Authorised"
        self.release = asyncio.Event()

    async def consent_view(self, consent_id: str) -> ConsentView | None:
        self.calls += 1
        await self.release.wait()
        return view(self.status)


class TestConsentCache:
    async def test_concurrent_misses_share_one_lookup(self) -> None:
        """Fifty concurrent misses for one consent cause one lookup."""
        lookup = SlowLookup()
        cache = ConsentCache(lookup, RevocationList())
        waiters = [asyncio.create_task(cache.get("cns_a")) for _ in range(50)]
        await asyncio.sleep(0)
        lookup.release.set()
        results = await asyncio.gather(*waiters)
        assert lookup.calls == 1
        assert {r.status for r in results if r} == {"Authorised"}

    async def test_revocation_during_lookup_is_not_cached(self) -> None:
        """A revocation seen while a lookup is in flight keeps its result out of the cache."""
        lookup = SlowLookup()
        revocations = RevocationList()
        cache = ConsentCache(lookup, revocations)
        first = asyncio.create_task(cache.get("cns_a"))
        await asyncio.sleep(0)
        revocations.add("consent", "cns_a", 2e9)
        lookup.status = "Revoked"
        lookup.release.set()
        await first
        assert (await cache.get("cns_a")).status == "Revoked"  # type: ignore[union-attr]
        assert lookup.calls == 2

    async def test_lookup_error_reaches_every_waiter(self) -> None:
        """A failing lookup fails its waiters and is retried next time."""

        class Failing:
            calls = 0

            async def consent_view(self, consent_id: str) -> ConsentView | None:
                Failing.calls += 1
                await asyncio.sleep(0.01)
                if Failing.calls == 1:
                    raise ConnectionError("database down")
                return view()

        cache = ConsentCache(Failing(), RevocationList())
        results = await asyncio.gather(cache.get("x"), cache.get("x"), return_exceptions=True)
        assert all(isinstance(r, ConnectionError) for r in results)
        assert (await cache.get("x")) is not None


class TestMemoryReplayCacheCapacity:
    async def test_full_of_live_keys_fails_closed(self) -> None:
        """When every remembered key is still live, a new key is refused, never forgotten."""
        cache = MemoryReplayCache(max_entries=3)
        assert [await cache.first_use(k, 60) for k in "abc"] == [True] * 3
        assert not await cache.first_use("d", 60)
        assert not await cache.first_use("a", 60)

    async def test_expired_keys_make_room(self) -> None:
        """Expired keys are dropped as new ones arrive."""
        cache = MemoryReplayCache(max_entries=2)
        assert await cache.first_use("a", 0)
        assert await cache.first_use("b", 0)
        await asyncio.sleep(0.01)
        assert await cache.first_use("c", 60)
        assert await cache.first_use("a", 60)
