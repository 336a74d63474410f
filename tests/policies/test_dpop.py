"""DPoP proof validation (RFC 9449 §4.3), `htu` normalisation and server nonces."""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from joserfc import jws
from joserfc.jwk import ECKey, OctKey, RSAKey
from requests_oauth2client import DPoPKey

from policies.dpop import (
    DPoPError,
    DPoPProof,
    DPoPVerifier,
    NonceIssuer,
    UseDPoPNonce,
    access_token_hash,
    normalise_htu,
)
from policies.replay import MemoryReplayCache
from tests.factories import dpop_proof

URL = "https://api.bank.example/v1/accounts"
TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJwc3VfMSJ9.c2lnbmF0dXJl"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_proof(
    key: ECKey | RSAKey,
    *,
    header: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
    **claims: Any,
) -> str:
    """A proof for GET `URL` bound to `TOKEN`; keyword arguments replace claims."""
    alg = "PS256" if isinstance(key, RSAKey) else "ES256"
    body: dict[str, Any] = {
        "jti": secrets.token_urlsafe(16),
        "htm": "GET",
        "htu": URL,
        "iat": int(time.time()),
        "ath": access_token_hash(TOKEN),
        **claims,
    }
    for name in drop:
        body.pop(name, None)
    protected: dict[str, Any] = {
        "typ": "dpop+jwt",
        "alg": alg,
        "jwk": key.as_dict(private=False),
        **(header or {}),
    }
    protected = {k: v for k, v in protected.items() if v is not None}
    return jws.serialize_compact(protected, json.dumps(body).encode(), key, algorithms=[alg])


def resign_header(proof: str, **changes: Any) -> str:
    """The same payload and signature under an edited protected header."""
    head, payload, signature = proof.split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    header.update(changes)
    return ".".join((b64url(json.dumps(header).encode()), payload, signature))


@pytest.fixture
def key() -> ECKey:
    return ECKey.generate_key("P-256")


@pytest.fixture
def verifier() -> DPoPVerifier:
    return DPoPVerifier(MemoryReplayCache(), iat_window=60)


class FakeClock:
    """Stands in for the `time` module inside `policies.dpop`."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


class TestDPoPVerifier:
    async def test_valid_proof_yields_key_thumbprint(
        self, verifier: DPoPVerifier, key: ECKey
    ) -> None:
        """A valid proof returns the RFC 7638 thumbprint of its key and its `jti`."""
        proof = make_proof(key, jti="proof-jti-0001")
        verified = await verifier.verify(proof, "GET", URL, access_token=TOKEN)
        assert verified == DPoPProof(jkt=key.thumbprint(), jti="proof-jti-0001")

    async def test_proof_from_independent_implementation_is_accepted(
        self, verifier: DPoPVerifier
    ) -> None:
        """A proof made by requests-oauth2client verifies, with the same thumbprint."""
        key = DPoPKey.generate(alg="ES256")
        verified = await verifier.verify(dpop_proof(key, "POST", URL, TOKEN), "POST", URL, TOKEN)
        assert verified.jkt == key.dpop_jkt

    @pytest.mark.parametrize("bits", [2048, 3072])
    async def test_ps256_proof_is_accepted(self, verifier: DPoPVerifier, bits: int) -> None:
        """PS256 proofs (advertised in the metadata) with an RSA key are accepted."""
        rsa = RSAKey.generate_key(bits)
        verified = await verifier.verify(make_proof(rsa), "GET", URL, TOKEN)
        assert verified.jkt == rsa.thumbprint()

    async def test_proof_without_ath_is_fine_at_token_endpoint(
        self, verifier: DPoPVerifier, key: ECKey
    ) -> None:
        """With no access token (the token endpoint), `ath` is not required."""
        await verifier.verify(make_proof(key, drop=("ath",)), "GET", URL)

    async def test_query_and_fragment_of_request_are_ignored(
        self, verifier: DPoPVerifier, key: ECKey
    ) -> None:
        """`htu` is compared without query and fragment, and with default ports dropped."""
        proof = make_proof(key, htu="HTTPS://API.bank.example:443/v1/accounts")
        await verifier.verify(proof, "GET", URL + "?page_size=5#top", TOKEN)

    @pytest.mark.parametrize("proof", [None, ""])
    async def test_missing_proof_is_rejected(
        self, verifier: DPoPVerifier, proof: str | None
    ) -> None:
        """No DPoP header is an `invalid_dpop_proof`."""
        with pytest.raises(DPoPError) as raised:
            await verifier.verify(proof, "GET", URL, TOKEN)
        assert raised.value.error == "invalid_dpop_proof"

    async def test_replayed_proof_is_rejected(self, verifier: DPoPVerifier, key: ECKey) -> None:
        """The same proof is accepted once, then rejected as a `jti` replay."""
        proof = make_proof(key)
        await verifier.verify(proof, "GET", URL, TOKEN)
        with pytest.raises(DPoPError, match="already used"):
            await verifier.verify(proof, "GET", URL, TOKEN)

    async def test_same_jti_from_another_key_is_not_a_replay(
        self, verifier: DPoPVerifier, key: ECKey
    ) -> None:
        """Replay is tracked per key: another key may use the same `jti`."""
        await verifier.verify(make_proof(key, jti="shared-jti-001"), "GET", URL, TOKEN)
        other = ECKey.generate_key("P-256")
        await verifier.verify(make_proof(other, jti="shared-jti-001"), "GET", URL, TOKEN)

    @pytest.mark.parametrize(
        ("build", "reason"),
        [
            (lambda k: make_proof(k) + "," + make_proof(k), "two proofs, comma-joined"),
            (lambda k: make_proof(k) + " " + make_proof(k), "two proofs, space-joined"),
            (lambda k: "not-a-jws", "not a JWS"),
            (lambda k: "a.b.c", "garbage segments"),
            (lambda k: make_proof(k, header={"typ": None}), "no typ"),
            (lambda k: make_proof(k, header={"typ": "JWT"}), "typ JWT"),
            (lambda k: make_proof(k, header={"typ": "DPOP+JWT"}), "typ wrong case"),
            (lambda k: make_proof(k, header={"jwk": None}), "no jwk"),
            (lambda k: resign_header(make_proof(k), jwk="key"), "jwk not an object"),
            (lambda k: make_proof(k, header={"jwk": k.as_dict(private=True)}), "private jwk"),
            (
                lambda k: make_proof(k, header={"jwk": {"kty": "EC", "crv": "P-256"}}),
                "jwk without coordinates",
            ),
            (
                lambda k: resign_header(make_proof(k), alg="HS256"),
                "alg HS256",
            ),
            (lambda k: resign_header(make_proof(k), alg="none"), "alg none"),
            (lambda k: resign_header(make_proof(k), alg="RS256"), "alg RS256"),
            (lambda k: resign_header(make_proof(k), alg="ES384"), "alg ES384"),
            (
                lambda k: resign_header(
                    make_proof(k),
                    jwk=ECKey.generate_key("P-256").as_dict(private=False),
                ),
                "signature by another key than jwk",
            ),
            (
                lambda k: resign_header(
                    make_proof(k), jwk=OctKey.generate_key(256).as_dict(private=False)
                ),
                "symmetric jwk",
            ),
            (lambda k: make_proof(k, drop=("jti",)), "no jti"),
            (lambda k: make_proof(k, jti="short"), "jti too short"),
            (lambda k: make_proof(k, jti="j" * 257), "jti too long"),
            (lambda k: make_proof(k, jti=12345678), "jti not a string"),
            (lambda k: make_proof(k, htm="POST"), "htm POST"),
            (lambda k: make_proof(k, htm="get"), "htm lower case"),
            (lambda k: make_proof(k, drop=("htm",)), "no htm"),
            (lambda k: make_proof(k, htu="https://api.bank.example/v1/payments"), "other path"),
            (lambda k: make_proof(k, htu="https://evil.example/v1/accounts"), "other host"),
            (lambda k: make_proof(k, htu="http://api.bank.example/v1/accounts"), "other scheme"),
            (lambda k: make_proof(k, htu="https://api.bank.example:8443/v1/accounts"), "port"),
            (lambda k: make_proof(k, drop=("htu",)), "no htu"),
            (lambda k: make_proof(k, htu=["https://api.bank.example/v1/accounts"]), "htu list"),
            (lambda k: make_proof(k, iat=int(time.time()) - 600), "iat 10 minutes old"),
            (lambda k: make_proof(k, iat=int(time.time()) - 61), "iat just out of window"),
            (lambda k: make_proof(k, iat=int(time.time()) + 600), "iat in the future"),
            (lambda k: make_proof(k, iat="now"), "iat not a number"),
            (lambda k: make_proof(k, drop=("iat",)), "no iat"),
            (lambda k: make_proof(k, drop=("ath",)), "no ath"),
            (lambda k: make_proof(k, ath=access_token_hash("another.token.x")), "ath other"),
            (lambda k: make_proof(k, ath=TOKEN), "ath is the raw token"),
        ],
    )
    async def test_invalid_proof_is_rejected(
        self, verifier: DPoPVerifier, key: ECKey, build: Any, reason: str
    ) -> None:
        """Each malformed, mis-bound or stale proof is an `invalid_dpop_proof`."""
        with pytest.raises(DPoPError) as raised:
            await verifier.verify(build(key), "GET", URL, access_token=TOKEN)
        assert raised.value.error == "invalid_dpop_proof", reason
        assert not isinstance(raised.value, UseDPoPNonce)

    async def test_rejected_proof_does_not_burn_its_jti(
        self, verifier: DPoPVerifier, key: ECKey
    ) -> None:
        """A proof rejected for its claims is not recorded, so its `jti` stays usable."""
        with pytest.raises(DPoPError):
            await verifier.verify(make_proof(key, jti="reused-jti-01", htm="POST"), "GET", URL)
        await verifier.verify(make_proof(key, jti="reused-jti-01"), "GET", URL, TOKEN)

    @pytest.mark.parametrize(
        "htu",
        [
            "https://api.bank.example:99999/v1/accounts",
            "https://api.bank.example:port/v1/accounts",
            "https://[::1/v1/accounts",
        ],
    )
    async def test_unparseable_htu_is_a_dpop_error(
        self, verifier: DPoPVerifier, key: ECKey, htu: str
    ) -> None:
        """An `htu` that is not a URL is an `invalid_dpop_proof`, not a crash."""
        with pytest.raises(DPoPError):
            await verifier.verify(make_proof(key, htu=htu), "GET", URL, TOKEN)

    async def test_non_ascii_ath_is_a_dpop_error(self, verifier: DPoPVerifier, key: ECKey) -> None:
        """An `ath` with non-ASCII characters is an `invalid_dpop_proof`, not a crash."""
        with pytest.raises(DPoPError):
            await verifier.verify(make_proof(key, ath="令牌哈希"), "GET", URL, TOKEN)


class TestNonceRequired:
    @pytest.fixture
    def nonces(self) -> NonceIssuer:
        return NonceIssuer(b"n" * 32, window=300)

    @pytest.fixture
    def strict(self, nonces: NonceIssuer) -> DPoPVerifier:
        return DPoPVerifier(MemoryReplayCache(), nonces=nonces, require_nonce=True)

    async def test_use_dpop_nonce_then_retry_passes(
        self, strict: DPoPVerifier, nonces: NonceIssuer, key: ECKey
    ) -> None:
        """Without a nonce: `use_dpop_nonce` carrying a valid nonce; the retry with it passes."""
        with pytest.raises(UseDPoPNonce) as raised:
            await strict.verify(make_proof(key), "GET", URL, TOKEN)
        assert raised.value.error == "use_dpop_nonce"
        assert nonces.is_valid(raised.value.nonce)
        verified = await strict.verify(make_proof(key, nonce=raised.value.nonce), "GET", URL)
        assert verified.jkt == key.thumbprint()

    @pytest.mark.parametrize("nonce", ["", "0.AAAA", 42, "not-a-nonce"])
    async def test_bad_nonce_gets_a_fresh_one(
        self, strict: DPoPVerifier, nonces: NonceIssuer, key: ECKey, nonce: object
    ) -> None:
        """A wrong nonce is answered with `use_dpop_nonce` and a current nonce."""
        with pytest.raises(UseDPoPNonce) as raised:
            await strict.verify(make_proof(key, nonce=nonce), "GET", URL, TOKEN)
        assert raised.value.nonce == nonces.current()

    async def test_nonce_of_another_server_is_refused(
        self, strict: DPoPVerifier, key: ECKey
    ) -> None:
        """A nonce minted with another secret is not accepted."""
        foreign = NonceIssuer(b"x" * 32).current()
        with pytest.raises(UseDPoPNonce):
            await strict.verify(make_proof(key, nonce=foreign), "GET", URL, TOKEN)

    async def test_non_ascii_nonce_gets_a_fresh_one(self, strict: DPoPVerifier, key: ECKey) -> None:
        """A nonce with non-ASCII text is answered with `use_dpop_nonce`, not a crash."""
        with pytest.raises(UseDPoPNonce):
            await strict.verify(make_proof(key, nonce="随机数"), "GET", URL, TOKEN)

    async def test_nonce_not_checked_when_not_required(self, key: ECKey) -> None:
        """With `require_nonce=False` a proof without a nonce passes."""
        relaxed = DPoPVerifier(MemoryReplayCache(), nonces=NonceIssuer(b"n" * 32))
        await relaxed.verify(make_proof(key), "GET", URL, TOKEN)


class TestNonceIssuer:
    def test_current_nonce_is_valid_and_stable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A freshly issued nonce is valid, and the same one is issued within its window."""
        clock = FakeClock(1_000_200.0)
        monkeypatch.setattr("policies.dpop.time", clock)
        issuer = NonceIssuer(b"s" * 32, window=300)
        nonce = issuer.current()
        assert issuer.is_valid(nonce)
        clock.now += 50
        assert issuer.current() == nonce

    def test_nonce_lives_two_windows(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A nonce stays valid through the next window and expires after it."""
        clock = FakeClock(1_000_000.0)
        monkeypatch.setattr("policies.dpop.time", clock)
        issuer = NonceIssuer(b"s" * 32, window=300)
        nonce = issuer.current()
        clock.now += 300
        assert issuer.is_valid(nonce)
        assert issuer.current() != nonce
        clock.now += 300
        assert not issuer.is_valid(nonce)

    def test_nonce_is_bound_to_secret(self) -> None:
        """Replicas sharing the secret accept each other's nonces; others do not."""
        nonce = NonceIssuer(b"a" * 32).current()
        assert NonceIssuer(b"a" * 32).is_valid(nonce)
        assert not NonceIssuer(b"b" * 32).is_valid(nonce)

    @pytest.mark.parametrize("nonce", ["", ".", "garbage", "ffffffff.AAAAAAAAAAAAAAAAAAAAAA"])
    def test_forged_nonce_is_invalid(self, nonce: str) -> None:
        """Strings that were not issued are not valid nonces."""
        assert not NonceIssuer(b"s" * 32).is_valid(nonce)


class TestNormaliseHtu:
    @pytest.mark.parametrize(
        ("url", "expected"),
        [
            ("https://API.Bank.Example/v1/x", "https://api.bank.example/v1/x"),
            ("HTTPS://api.bank.example:443/v1/x", "https://api.bank.example/v1/x"),
            ("http://127.0.0.1:80/v1/x", "http://127.0.0.1/v1/x"),
            ("http://127.0.0.1:8000/v1/x?a=1#f", "http://127.0.0.1:8000/v1/x"),
            ("https://api.bank.example:80/v1/x", "https://api.bank.example:80/v1/x"),
            ("https://api.bank.example", "https://api.bank.example/"),
            ("https://user:pw@api.bank.example/v1", "https://api.bank.example/v1"),
            ("https://[::1]:443/v1", "https://[::1]/v1"),
            ("http://[::1]:8000/v1", "http://[::1]:8000/v1"),
        ],
    )
    def test_examples(self, url: str, expected: str) -> None:
        """Scheme and host lower-cased, default port, query, fragment and userinfo dropped."""
        assert normalise_htu(url) == expected

    def test_path_case_is_kept(self) -> None:
        """The path is compared exactly (it is case-sensitive)."""
        assert normalise_htu("https://h/V1/Accounts") != normalise_htu("https://h/v1/accounts")

    @given(
        scheme=st.sampled_from(["http", "https", "HTTP", "Https"]),
        host=st.from_regex(
            r"[A-Za-z][A-Za-z0-9-]{0,15}(\.[A-Za-z][A-Za-z0-9-]{0,15}){0,3}", fullmatch=True
        )
        | st.sampled_from(["127.0.0.1", "[::1]", "[2001:DB8::1]"]),
        port=st.none() | st.integers(min_value=1, max_value=65535),
        path=st.lists(st.from_regex(r"[A-Za-z0-9._~-]{1,12}", fullmatch=True), max_size=5),
        query=st.none() | st.from_regex(r"[A-Za-z0-9=&_-]{0,20}", fullmatch=True),
        fragment=st.none() | st.from_regex(r"[A-Za-z0-9_-]{0,12}", fullmatch=True),
    )
    def test_properties(
        self,
        scheme: str,
        host: str,
        port: int | None,
        path: list[str],
        query: str | None,
        fragment: str | None,
    ) -> None:
        """Idempotent; query and fragment dropped; default ports dropped, others kept."""
        netloc = host if port is None else f"{host}:{port}"
        base = f"{scheme}://{netloc}/" + "/".join(path)
        url = (
            base
            + (f"?{query}" if query is not None else "")
            + (f"#{fragment}" if fragment is not None else "")
        )
        once = normalise_htu(url)
        assert normalise_htu(once) == once
        assert once == normalise_htu(base)
        assert "?" not in once
        assert "#" not in once
        assert once.startswith(scheme.lower() + "://" + host.lower())
        default = {"http": 80, "https": 443}[scheme.lower()]
        if port is None or port == default:
            assert once.split("://", 1)[1].split("/", 1)[0] == host.lower()
        else:
            assert f":{port}/" in once
