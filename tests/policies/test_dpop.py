"""DPoP proof validation (RFC 9449 §4.3), `htu` normalisation and server nonces."""

from __future__ import annotations

import base64
import functools
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jws
from joserfc.jwk import ECKey, OctKey, RSAKey
from requests_oauth2client import DPoPKey

from policies.compact_jws import KeyCache, import_jwk
from policies.dpop import (
    DPOP_ALGS,
    DPoPError,
    DPoPProof,
    DPoPVerifier,
    NonceIssuer,
    UseDPoPNonce,
    access_token_hash,
    normalise_htu,
)
from policies.replay import MemoryReplayCache
from tests.factories import (
    dpop_proof,
    ec_private,
    joserfc_rsa,
    octets,
    public_jwk,
    rsa_private,
)

URL = "https://api.bank.example/v1/accounts"
TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJwc3VfMSJ9.c2lnbmF0dXJl"

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: object) -> str:
    return b64url(json.dumps(value).encode())


def proof_claims(drop: tuple[str, ...] = (), **claims: Any) -> dict[str, Any]:
    """Claims of a proof for GET `URL` bound to `TOKEN`; keyword arguments replace claims."""
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
    return body


def make_proof(
    key: ECKey | RSAKey,
    *,
    header: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
    **claims: Any,
) -> str:
    """A proof signed by joserfc; keyword arguments replace claims."""
    alg = "PS256" if isinstance(key, RSAKey) else "ES256"
    body = proof_claims(drop, **claims)
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


def sign(private: PrivateKey, header: dict[str, Any], payload: bytes) -> str:
    """A compact JWS signed with `cryptography` itself: PS256 for RSA, r||s ECDSA for EC."""
    signing_input = f"{segment(header)}.{b64url(payload)}".encode()
    if isinstance(private, rsa.RSAPrivateKey):
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        signature = private.sign(signing_input, pss, hashes.SHA256())
    else:
        r, s = decode_dss_signature(private.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        size = (private.curve.key_size + 7) // 8
        signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return f"{signing_input.decode()}.{b64url(signature)}"


def hand_proof(
    private: PrivateKey,
    *,
    alg: str | None = None,
    jwk: dict[str, Any] | None = None,
    header: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    """A proof signed by hand, so that keys and headers joserfc would refuse can be tried."""
    protected = {
        "typ": "dpop+jwt",
        "alg": alg or ("PS256" if isinstance(private, rsa.RSAPrivateKey) else "ES256"),
        "jwk": jwk or public_jwk(private),
        **(header or {}),
    }
    return sign(private, protected, json.dumps(proof_claims(**claims)).encode())


def with_signature(proof: str, change: Callable[[bytes], bytes]) -> str:
    """The same header and payload with the signature bytes changed."""
    signing_input, _, signature = proof.rpartition(".")
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    return f"{signing_input}.{b64url(change(raw))}"


def der_encoded(signature: bytes) -> bytes:
    """An r||s ECDSA signature in the DER form that JWS does not use."""
    half = len(signature) // 2
    r, s = int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
    return encode_dss_signature(r, s)


def off_curve(jwk: dict[str, Any]) -> dict[str, Any]:
    """The JWK with its y coordinate moved off the curve."""
    y = int.from_bytes(base64.urlsafe_b64decode(jwk["y"] + "="), "big")
    return {**jwk, "y": octets((y + 1) % 2**256, 32)}


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


class TestProofKeys:
    """Which keys a proof may carry: P-256, or RSA of 2048 to 4096 bits with exponent 65537."""

    @pytest.mark.parametrize(
        "build",
        [
            pytest.param(lambda: ec_private(), id="P-256"),
            pytest.param(lambda: rsa_private(2048), id="RSA-2048"),
            pytest.param(lambda: rsa_private(4096), id="RSA-4096"),
        ],
    )
    async def test_hand_signed_proof_is_accepted(
        self, verifier: DPoPVerifier, build: Callable[[], PrivateKey]
    ) -> None:
        """Positive control: a proof signed by hand verifies, with its key's RFC 7638 thumbprint."""
        private = build()
        verified = await verifier.verify(hand_proof(private), "GET", URL, TOKEN)
        assert verified.jkt == import_jwk(public_jwk(private)).jkt

    @pytest.mark.parametrize(
        ("build", "reason"),
        [
            pytest.param(lambda: rsa_private(1024), "2048 to 4096 bits", id="RSA-1024"),
            pytest.param(lambda: rsa_private(2048, exponent=3), "exponent 65537", id="e=3"),
            pytest.param(lambda: ec_private(ec.SECP384R1()), "P-256", id="P-384"),
        ],
    )
    async def test_weak_or_unusual_key_is_refused(
        self, verifier: DPoPVerifier, build: Callable[[], PrivateKey], reason: str
    ) -> None:
        """A correctly signed proof whose key is weak or of another curve is refused, saying why."""
        with pytest.raises(DPoPError, match=reason):
            await verifier.verify(hand_proof(build()), "GET", URL, TOKEN)

    async def test_point_off_the_curve_is_refused(self, verifier: DPoPVerifier) -> None:
        """A P-256 `jwk` whose point is not on the curve is refused before any signature check."""
        private = ec_private()
        proof = hand_proof(private, jwk=off_curve(public_jwk(private)))
        with pytest.raises(DPoPError, match="not on curve P-256"):
            await verifier.verify(proof, "GET", URL, TOKEN)

    async def test_padded_coordinate_is_refused(self, verifier: DPoPVerifier) -> None:
        """EC coordinates are exactly 32 bytes: a leading zero octet is refused."""
        private = ec_private()
        jwk = public_jwk(private)
        x = base64.urlsafe_b64decode(jwk["x"] + "=")
        proof = hand_proof(private, jwk={**jwk, "x": b64url(b"\0" + x)})
        with pytest.raises(DPoPError, match="32 bytes"):
            await verifier.verify(proof, "GET", URL, TOKEN)

    @pytest.mark.parametrize(
        ("build", "alg"),
        [
            pytest.param(lambda: ec_private(), "PS256", id="EC key, PS256"),
            pytest.param(lambda: rsa_private(2048), "ES256", id="RSA key, ES256"),
        ],
    )
    async def test_alg_of_another_key_type_is_refused(
        self, verifier: DPoPVerifier, build: Callable[[], PrivateKey], alg: str
    ) -> None:
        """An allowed `alg` that does not fit the key type of `jwk` is refused."""
        with pytest.raises(DPoPError, match="cannot verify"):
            await verifier.verify(hand_proof(build(), alg=alg), "GET", URL, TOKEN)

    async def test_stated_intended_use_for_signatures_is_accepted(
        self, verifier: DPoPVerifier
    ) -> None:
        """Positive control: a `jwk` stating `use`, `key_ops` and `alg` that allow ES256 is fine."""
        private = ec_private()
        jwk = {**public_jwk(private), "use": "sig", "key_ops": ["verify"], "alg": "ES256"}
        await verifier.verify(hand_proof(private, jwk=jwk), "GET", URL, TOKEN)

    @pytest.mark.parametrize(
        "stated",
        [{"use": "enc"}, {"key_ops": ["sign"]}, {"key_ops": "verify"}, {"alg": "ES384"}],
    )
    async def test_stated_intended_use_for_other_purposes_is_refused(
        self, verifier: DPoPVerifier, stated: dict[str, Any]
    ) -> None:
        """A `jwk` whose `use`, `key_ops` or `alg` rules out verifying ES256 is refused."""
        private = ec_private()
        proof = hand_proof(private, jwk={**public_jwk(private), **stated})
        with pytest.raises(DPoPError, match="'jwk' is not accepted"):
            await verifier.verify(proof, "GET", URL, TOKEN)

    async def test_key_sent_under_other_headers_keeps_its_thumbprint(
        self, verifier: DPoPVerifier
    ) -> None:
        """The same key under differently written headers yields the same `jkt` each time."""
        private = ec_private()
        plain = await verifier.verify(hand_proof(private), "GET", URL, TOKEN)
        with_kid = await verifier.verify(hand_proof(private, header={"kid": "k1"}), "GET", URL)
        assert plain.jkt == with_kid.jkt


class TestProofSignature:
    @pytest.mark.parametrize(
        "build",
        [pytest.param(ec_private, id="ES256"), pytest.param(lambda: rsa_private(2048), id="PS256")],
    )
    async def test_unchanged_signature_is_accepted(
        self, verifier: DPoPVerifier, build: Callable[[], PrivateKey]
    ) -> None:
        """Positive control: a signature decoded and encoded again by `with_signature` verifies."""
        proof = with_signature(hand_proof(build()), lambda signature: signature)
        await verifier.verify(proof, "GET", URL, TOKEN)

    @pytest.mark.parametrize(
        ("build", "change"),
        [
            pytest.param(ec_private, lambda sig: sig[:63], id="ES256 63 bytes"),
            pytest.param(ec_private, lambda sig: sig + b"\0", id="ES256 65 bytes"),
            pytest.param(ec_private, lambda sig: sig[:1], id="ES256 1 byte"),
            pytest.param(ec_private, der_encoded, id="ES256 DER-encoded"),
            pytest.param(lambda: rsa_private(2048), lambda sig: sig[1:], id="PS256 a byte short"),
        ],
    )
    async def test_signature_of_wrong_length_is_refused(
        self,
        verifier: DPoPVerifier,
        build: Callable[[], PrivateKey],
        change: Callable[[bytes], bytes],
    ) -> None:
        """A signature that is not exactly the size its algorithm and key produce is refused."""
        proof = with_signature(hand_proof(build()), change)
        with pytest.raises(DPoPError, match="bytes"):
            await verifier.verify(proof, "GET", URL, TOKEN)

    async def test_ps256_proof_from_independent_implementation_is_accepted(
        self, verifier: DPoPVerifier
    ) -> None:
        """A PS256 proof by requests-oauth2client verifies (same PSS salt), same thumbprint."""
        key = DPoPKey.generate(alg="PS256")
        verified = await verifier.verify(dpop_proof(key, "GET", URL, TOKEN), "GET", URL, TOKEN)
        assert verified.jkt == key.dpop_jkt

    async def test_forged_proof_does_not_burn_its_jti(
        self, verifier: DPoPVerifier, key: ECKey
    ) -> None:
        """A proof whose signature fails is not recorded: the key holder can still use its `jti`."""
        genuine = make_proof(key, jti="victim-jti-0001")
        forged = with_signature(genuine, lambda signature: bytes(len(signature)))
        with pytest.raises(DPoPError, match="signature is invalid"):
            await verifier.verify(forged, "GET", URL, TOKEN)
        await verifier.verify(genuine, "GET", URL, TOKEN)


class TestProofStructure:
    @pytest.mark.parametrize(
        ("header", "claims"),
        [
            pytest.param({"kid": "k" * 1800}, {}, id="header near 2048 bytes"),
            pytest.param({}, {"pad": "p" * 3900}, id="payload near 4096 bytes"),
        ],
    )
    async def test_large_proof_within_limits_is_accepted(
        self, verifier: DPoPVerifier, header: dict[str, Any], claims: dict[str, Any]
    ) -> None:
        """Positive control: a header or payload close to its size limit verifies."""
        await verifier.verify(hand_proof(ec_private(), header=header, **claims), "GET", URL, TOKEN)

    @pytest.mark.parametrize(
        ("header", "claims", "reason"),
        [
            pytest.param({"kid": "k" * 2100}, {}, "header exceeds 2048", id="header"),
            pytest.param({}, {"pad": "p" * 4100}, "payload exceeds 4096", id="payload"),
        ],
    )
    async def test_oversize_proof_is_refused(
        self,
        verifier: DPoPVerifier,
        header: dict[str, Any],
        claims: dict[str, Any],
        reason: str,
    ) -> None:
        """A header over 2048 bytes or a payload over 4096 bytes is refused before decoding."""
        proof = hand_proof(ec_private(), header=header, **claims)
        with pytest.raises(DPoPError, match=reason):
            await verifier.verify(proof, "GET", URL, TOKEN)

    @pytest.mark.parametrize(
        ("change", "reason"),
        [
            (lambda p: p + "==", "base64url"),
            (lambda p: p.replace(".", "=.", 1), "base64url"),
            (lambda p: p.replace("-", "+").replace("_", "/") + "+/", "base64url"),
            (lambda p: p + ".", "base64url"),
            (lambda p: p.rpartition(".")[0] + ".", "base64url"),
            (lambda p: p + ".e30", "base64url"),
            (lambda p: p.rpartition(".")[0], "base64url"),
            (lambda p: p.replace(".", "\t.", 1), "base64url"),
            (lambda p: p.replace(".", "..", 1), "base64url"),
            (lambda p: p[:-1] + "é", "base64url"),
            (lambda p: p + "AAA", "length"),
        ],
    )
    async def test_malformed_compact_form_is_refused(
        self, verifier: DPoPVerifier, key: ECKey, change: Callable[[str], str], reason: str
    ) -> None:
        """Padding, other alphabets, a missing or extra segment: all refused as malformed."""
        proof = make_proof(key)
        with pytest.raises(DPoPError, match=f"malformed.*{reason}"):
            await verifier.verify(change(proof), "GET", URL, TOKEN)
        await verifier.verify(proof, "GET", URL, TOKEN)

    @pytest.mark.parametrize(
        ("header", "payload", "reason"),
        [
            ("W10", None, "header is not a JSON object"),
            ("bm90IGpzb24", None, "header is not JSON"),
            (None, b"[]", "payload is not a JSON object"),
            (None, b"\xff\xfe", "payload is not JSON"),
        ],
    )
    async def test_segment_that_is_not_a_json_object_is_refused(
        self, verifier: DPoPVerifier, header: str | None, payload: bytes | None, reason: str
    ) -> None:
        """Header and payload must both decode to JSON objects."""
        private = ec_private()
        protected = {"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(private)}
        proof = sign(private, protected, payload or json.dumps(proof_claims()).encode())
        if header is not None:
            proof = header + proof[proof.index(".") :]
        with pytest.raises(DPoPError, match=reason):
            await verifier.verify(proof, "GET", URL, TOKEN)

    async def test_registered_header_member_is_accepted(self, verifier: DPoPVerifier) -> None:
        """Positive control: a registered header member the proof does not need (`kid`) is fine."""
        await verifier.verify(hand_proof(ec_private(), header={"kid": "k1"}), "GET", URL, TOKEN)

    @pytest.mark.parametrize(
        ("header", "reason"),
        [
            ({"crit": ["exp"], "exp": 1}, "crit"),
            ({"crit": []}, "crit"),
            ({"b64": False}, "not understood"),
            ({"x-vendor": "v"}, "not understood"),
        ],
    )
    async def test_header_extension_is_refused(
        self, verifier: DPoPVerifier, header: dict[str, Any], reason: str
    ) -> None:
        """Critical extensions and unregistered header members are refused, not ignored."""
        with pytest.raises(DPoPError, match=reason):
            await verifier.verify(hand_proof(ec_private(), header=header), "GET", URL, TOKEN)


class TestThumbprint:
    @pytest.mark.parametrize(
        "build",
        [
            *(
                pytest.param(functools.partial(ECKey.generate_key, "P-256"), id=f"P-256 #{n}")
                for n in range(3)
            ),
            *(
                pytest.param(functools.partial(joserfc_rsa, bits), id=f"RSA-{bits}")
                for bits in (2048, 3072, 4096)
            ),
        ],
    )
    def test_thumbprint_equals_joserfc(self, build: Callable[[], ECKey | RSAKey]) -> None:
        """The RFC 7638 thumbprint equals joserfc's for the same key, extra members ignored."""
        key = build()
        jwk = {**key.as_dict(private=False), "kid": "k1", "use": "sig"}
        assert import_jwk(jwk).jkt == key.thumbprint()

    def test_key_cache_drops_its_oldest_key_when_full(self) -> None:
        """Past its size the cache forgets its oldest key; every key still maps to its own `jkt`."""
        cache = KeyCache(max_entries=2)
        keys = [ECKey.generate_key("P-256") for _ in range(3)]
        for key in keys + keys:
            assert cache.key_for(key.as_dict(private=False), "ES256").jkt == key.thumbprint()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
_EC_PRIVATE = ec_private()
_EC_JWK = public_jwk(_EC_PRIVATE)
JWKS = st.sampled_from([_EC_JWK, public_jwk(rsa_private(2048))]) | st.sampled_from(
    [
        public_jwk(ec_private(ec.SECP384R1())),
        off_curve(_EC_JWK),
        {**_EC_JWK, "x": 7},
        {**_EC_JWK, "kty": "RSA"},
        {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
        {"kty": "oct", "k": "c2VjcmV0"},
    ]
)
# Each member is well-formed about half the time, so that some tokens reach every check.
HEADERS = st.fixed_dictionaries(
    {
        "typ": st.just("dpop+jwt") | JSON,
        "alg": st.sampled_from(DPOP_ALGS) | JSON,
        "jwk": JWKS | st.dictionaries(st.sampled_from(["kty", "crv", "x", "y", "n", "e"]), JSON),
    },
    optional={"kid": JSON},
)
CLAIMS = st.fixed_dictionaries(
    {
        "jti": st.text(min_size=8, max_size=20) | JSON,
        "htm": st.just("GET") | JSON,
        "htu": st.just(URL) | st.text(max_size=40) | JSON,
        "iat": st.builds(time.time).map(int) | JSON,
        "ath": st.just(access_token_hash(TOKEN)) | JSON,
    },
    optional={"nonce": JSON},
)
# Mapped, so that `HEADERS.map(segment) | SEGMENTS` draws a header half the time, not a quarter.
SEGMENTS = st.one_of(
    JSON.map(segment),
    st.binary(max_size=80).map(b64url),
    st.text(alphabet="AZaz09-_=+/. é", max_size=40),
).map(str)


class TestMalformedInput:
    @settings(max_examples=300, deadline=None)
    @given(proof=st.text(max_size=300) | st.binary(max_size=300))
    async def test_arbitrary_text_or_bytes_is_a_dpop_error(self, proof: str | bytes) -> None:
        """Any text or bytes as a proof ends in `DPoPError`, never another exception."""
        verifier = DPoPVerifier(MemoryReplayCache())
        with pytest.raises(DPoPError):
            await verifier.verify(proof, "GET", URL, TOKEN)  # type: ignore[arg-type]

    @settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        header=HEADERS.map(segment) | SEGMENTS,
        payload=CLAIMS.map(segment) | SEGMENTS,
        signature=st.binary(max_size=520).map(b64url) | SEGMENTS,
    )
    async def test_three_segment_token_is_a_dpop_error(
        self, header: str, payload: str, signature: str
    ) -> None:
        """Random headers, claims and signatures in compact form end in `DPoPError` only."""
        nonces = NonceIssuer(b"n" * 32)
        verifier = DPoPVerifier(MemoryReplayCache(), nonces=nonces, require_nonce=True)
        with pytest.raises(DPoPError):
            await verifier.verify(f"{header}.{payload}.{signature}", "GET", URL, TOKEN)

    @settings(max_examples=200, deadline=None)
    @given(claims=CLAIMS)
    async def test_signed_proof_passes_only_with_every_claim_right(
        self, claims: dict[str, Any]
    ) -> None:
        """A well-signed proof with arbitrary claims passes only if each claim is right."""
        verifier = DPoPVerifier(MemoryReplayCache())
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": _EC_JWK}
        proof = sign(_EC_PRIVATE, header, json.dumps(claims).encode())
        try:
            await verifier.verify(proof, "GET", URL, TOKEN)
        except DPoPError:
            return
        assert (claims["htm"], claims["htu"]) == ("GET", URL)
        assert claims["ath"] == access_token_hash(TOKEN)
        assert isinstance(claims["jti"], str)
        assert abs(claims["iat"] - time.time()) <= 60


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
