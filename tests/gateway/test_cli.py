"""The `obgw` command line."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from joserfc.jwk import ECKey
from typer.testing import CliRunner

from gateway.app import create_app
from gateway.cli import app
from tests.conftest import make_settings, share_secret
from tests.factories import ec_private, public_jwk, rsa_private


@pytest.fixture
def env(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> dict[str, str]:
    values = {"OBGW_DATA_DIR": str(tmp_path / "data"), "OBGW_LOG_LEVEL": "WARNING"}
    if backend == "postgresql":
        values["OBGW_DATABASE_URL"] = request.getfixturevalue("postgres_url")
        share_secret(tmp_path / "data")
    return values


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


class TestCli:
    def test_partner_and_clients(self, env: dict[str, str], tmp_path: Path) -> None:
        """partners create → clients create (secret and JWKS) → list → revoke, as JSON."""
        code, out = run(env, "db", "upgrade")
        assert code == 0, out
        code, out = run(
            env,
            "partners",
            "create",
            "--name",
            "市公交集团",
            "--sector",
            "transport",
            "--tier",
            "gold",
            "--json",
        )
        assert code == 0, out
        partner_id = json.loads(out)["partner_id"]
        assert partner_id.startswith("ptn_")

        code, out = run(
            env,
            "clients",
            "create",
            "--partner",
            partner_id,
            "--scopes",
            "products consents",
            "--secret",
            "--json",
        )
        assert code == 0, out
        secret_client = json.loads(out)
        assert secret_client["client_secret"]

        jwks = tmp_path / "jwks.json"
        jwks.write_text(json.dumps({"keys": [ECKey.generate_key("P-256").as_dict(private=False)]}))
        code, out = run(
            env,
            "clients",
            "create",
            "--partner",
            partner_id,
            "--scopes",
            "accounts",
            "--redirect-uri",
            "https://app.example/cb",
            "--jwks-file",
            str(jwks),
            "--json",
        )
        assert code == 0, out
        key_client = json.loads(out)
        assert "client_secret" not in key_client
        assert key_client["token_endpoint_auth_method"] == "private_key_jwt"

        code, out = run(env, "clients", "list", "--json")
        listed = {c["client_id"]: c for c in json.loads(out)["data"]}
        assert set(listed) >= {secret_client["client_id"], key_client["client_id"]}
        assert secret_client["client_secret"] not in out

        code, out = run(env, "clients", "revoke", secret_client["client_id"])
        assert code == 0, out
        code, out = run(env, "partners", "suspend", partner_id)
        assert code == 0, out
        code, out = run(env, "partners", "list", "--json")
        assert json.loads(out)["data"][-1]["status"] == "suspended"

    @pytest.mark.parametrize(
        "command", [("partners", "create"), ("clients", "create"), ("keys", "list"), ("serve",)]
    )
    def test_help_shows_flags_without_a_value(
        self, env: dict[str, str], command: tuple[str, ...]
    ) -> None:
        """`--help` lists a boolean flag bare (`--json`), never as taking a value."""
        code, out = run(env, *command, "--help")
        assert code == 0, out
        assert "<bool>" not in out
        options = [line.split() for line in out.splitlines() if line.startswith("  --")]
        assert ["--json", "Print"] in [words[:2] for words in options], out

    def test_options_with_a_value_say_so_in_help(self, env: dict[str, str]) -> None:
        """Positive control: an option that takes a value shows what it takes."""
        code, out = run(env, "partners", "create", "--help")
        assert code == 0, out
        assert "--name <str>" in out
        assert "--sector <str>" in out

    def test_bad_input_exits_2(self, env: dict[str, str]) -> None:
        """A bad sector or an unknown partner is a clear error with exit code 2."""
        code, out = run(env, "partners", "create", "--name", "X", "--sector", "casino")
        assert code == 2
        assert "is not a sector" in out
        code, out = run(
            env, "clients", "create", "--partner", "ptn_nope", "--scopes", "products", "--secret"
        )
        assert code == 2

    def test_weak_jwks_file_is_refused(self, env: dict[str, str], tmp_path: Path) -> None:
        """`clients create --jwks-file` with an RSA-1024 key exits 2 naming the accepted keys;
        a P-256 key registers."""
        code, out = run(env, "partners", "create", "--name", "P", "--sector", "other", "--json")
        assert code == 0, out
        partner_id = json.loads(out)["partner_id"]
        weak, good = tmp_path / "weak.json", tmp_path / "good.json"
        weak.write_text(json.dumps({"keys": [public_jwk(rsa_private(1024))]}))
        good.write_text(json.dumps({"keys": [public_jwk(ec_private())]}))
        args = ["clients", "create", "--partner", partner_id, "--scopes", "products"]
        code, out = run(env, *args, "--jwks-file", str(weak))
        assert code == 2
        assert "2048 to 4096 bits" in out
        code, out = run(env, *args, "--jwks-file", str(good), "--json")
        assert code == 0, out

    def test_unsafe_redirect_uri_is_refused(self, env: dict[str, str]) -> None:
        """`clients create --redirect-uri` applies the registration rule: a host that only
        starts like a loopback one exits 2; a loopback URI on any port registers."""
        code, out = run(env, "partners", "create", "--name", "P", "--sector", "other", "--json")
        assert code == 0, out
        partner_id = json.loads(out)["partner_id"]
        args = ["clients", "create", "--partner", partner_id, "--scopes", "accounts", "--secret"]
        code, out = run(env, *args, "--redirect-uri", "http://127.0.0.1.evil.example/cb")
        assert code == 2
        assert "plain http" in out
        code, out = run(env, *args, "--redirect-uri", "http://127.0.0.1:8123/cb", "--json")
        assert code == 0, out

    def test_keys_and_ops(self, env: dict[str, str]) -> None:
        """keys rotate/list and ops-clients create."""
        code, out = run(env, "keys", "rotate", "--json")
        assert code == 0, out
        kid = json.loads(out)["kid"]
        code, out = run(env, "keys", "list", "--json")
        active = [k for k in json.loads(out)["data"] if k["active"]]
        assert [k["kid"] for k in active] == [kid]
        code, out = run(env, "ops-clients", "create", "--json")
        assert code == 0, out
        assert json.loads(out)["client_id"].startswith("ops_")


class TestDemo:
    async def test_json_prints_working_credentials(self, env: dict[str, str]) -> None:
        """`obgw demo --json` prints one JSON object whose client gets a token."""
        code, out = await asyncio.to_thread(run, env, "demo", "--json")
        assert code == 0, out
        demo = json.loads(out)
        assert demo["portal"].endswith("/")
        assert demo["client_id"].startswith("cli_")
        settings = make_settings(
            Path(env["OBGW_DATA_DIR"]).parent, env.get("OBGW_DATABASE_URL", "")
        )
        application = create_app(settings)
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url=settings.issuer) as http:
                response = await http.post(
                    "/oauth/token",
                    data={"grant_type": "client_credentials", "scope": "products"},
                    auth=(demo["client_id"], demo["client_secret"]),
                )
        assert response.status_code == 200, response.text

    def test_secret_is_not_printed_to_a_pipe(self, env: dict[str, str]) -> None:
        """Without a terminal or `--json`, `obgw demo` refuses before creating a partner."""
        _, before = run(env, "partners", "list", "--json")
        code, out = run(env, "demo")
        assert code == 2
        assert "--json" in out
        assert "client_id" not in out
        _, after = run(env, "partners", "list", "--json")
        assert json.loads(after)["data"] == json.loads(before)["data"]
