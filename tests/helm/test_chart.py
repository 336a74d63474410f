"""The Helm chart (helm/obgw), rendered without helm and validated against Kubernetes schemas.

`tests/helm/render/main.go` renders the chart with text/template + Sprig (NOTES.md, "Helm
chart rendering without helm"); it is built once per session in GOPATH mode from the Debian
packages golang-go, golang-github-masterminds-sprig-dev and golang-gopkg-yaml.v3-dev. Every
rendered document is checked with kubernetes-validate in strict mode, and the values with
values.schema.json, as `helm install` would.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "obgw"
RENDERER_SRC = Path(__file__).resolve().parent / "render"
GOPATH = "/usr/share/gocode"
# The chart's minimum (Chart.yaml kubeVersion) and a recent release.
KUBE_VERSIONS = ("1.25.0", "1.30.0")
REQUIRE_SERVICES = os.environ.get("OBGW_TEST_REQUIRE_SERVICES") == "1"
DEBIAN_PACKAGES = "golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev"

Doc = dict[str, Any]
Render = Callable[..., subprocess.CompletedProcess[str]]

# Production-like values: shared PostgreSQL/Redis/keys from existing Secrets, autoscaling,
# a ServiceMonitor and a custom policy catalogue.
PRODUCTION: Doc = {
    "config": {
        "environment": "production",
        "issuer": "https://api.bank.example",
        "fineract": {
            "url": "https://fineract.core.svc/fineract-provider/api/v1",
            "existingSecret": "obgw-fineract",
        },
        "otlpEndpoint": "http://otel-collector.observability:4318",
    },
    "database": {"existingSecret": "obgw-db"},
    "redis": {"existingSecret": "obgw-redis"},
    "gatewaySecret": {"existingSecret": "obgw-secret", "key": "gateway-secret"},
    "autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 12},
    "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
    "policyCatalog": (
        "tiers:\n"
        "  bronze: {burst: 20, per_minute: 60, daily: 10000}\n"
        "products:\n"
        "  capabilities.read: {scope: null, level: A1}\n"
    ),
    "imagePullSecrets": [{"name": "regcred"}],
    "networkPolicy": {"egress": {"coreBanking": {"port": 8443}}},
}
SHARED_STATE: Doc = {
    "database": {"existingSecret": "obgw-db"},
    "redis": {"existingSecret": "obgw-redis"},
    "gatewaySecret": {"existingSecret": "obgw-secret"},
}


def _missing(what: str) -> None:
    """Skip on a laptop, fail in CI (OBGW_TEST_REQUIRE_SERVICES=1), when a tool is absent."""
    if REQUIRE_SERVICES:
        pytest.fail(what)
    pytest.skip(what)


def _merge(base: Doc, override: Doc) -> Doc:
    """Helm's coalescing: maps merge recursively, other values are replaced, null deletes."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _documents(text: str) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def _one(docs: list[Doc], kind: str) -> Doc:
    found = [doc for doc in docs if doc["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, got {[d['kind'] for d in docs]}"
    return found[0]


def _kinds(docs: list[Doc]) -> set[str]:
    return {doc["kind"] for doc in docs}


def _env(container: Doc) -> dict[str, Doc]:
    return {item["name"]: item for item in container["env"]}


def _probe_path(container: Doc, probe: str) -> str:
    return str(container[probe]["httpGet"]["path"])


@pytest.fixture(scope="session")
def renderer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Go chart renderer, built once per session."""
    go = shutil.which("go")
    if go is None:
        _missing(f"the Go toolchain is not installed (apt-get install {DEBIAN_PACKAGES})")
    assert go is not None
    out = tmp_path_factory.mktemp("helm-render")
    env = {
        **os.environ,
        "GOPATH": GOPATH,
        "GO111MODULE": "off",
        "GOFLAGS": "",
        "GOCACHE": str(out / "go-cache"),
    }
    binary = out / "render"
    build = subprocess.run(
        [go, "build", "-o", str(binary), "."],
        cwd=RENDERER_SRC,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if build.returncode != 0:
        if "cannot find package" in build.stderr:
            _missing(f"Go libraries missing (apt-get install {DEBIAN_PACKAGES}):\n{build.stderr}")
        pytest.fail(f"the chart renderer does not build:\n{build.stderr}")
    return binary


@pytest.fixture(scope="session")
def render(renderer: Path, tmp_path_factory: pytest.TempPathFactory) -> Render:
    """Render the chart with optional override values; returns the finished process."""
    workdir = tmp_path_factory.mktemp("helm-values")
    counter = iter(range(1_000_000))

    def run(overrides: Doc | None = None, *flags: str) -> subprocess.CompletedProcess[str]:
        args = [str(renderer), "-namespace", "obgw", *flags, str(CHART)]
        if overrides is not None:
            path = workdir / f"values-{next(counter)}.yaml"
            path.write_text(yaml.safe_dump(overrides))
            args.append(str(path))
        return subprocess.run(args, capture_output=True, text=True, check=False, timeout=60)

    return run


def _render_ok(render: Render, overrides: Doc | None = None) -> list[Doc]:
    result = render(overrides)
    assert result.returncode == 0, result.stderr
    return _documents(result.stdout)


@pytest.fixture(scope="session")
def default_docs(render: Render) -> list[Doc]:
    """The chart rendered with its default values."""
    return _render_ok(render)


@pytest.fixture(scope="session")
def production_docs(render: Render) -> list[Doc]:
    """The chart rendered with production-like overrides."""
    return _render_ok(render, PRODUCTION)


@pytest.fixture(scope="session")
def schema() -> Doc:
    """The chart's values.schema.json."""
    loaded: Doc = json.loads((CHART / "values.schema.json").read_text())
    return loaded


@pytest.fixture(scope="session")
def default_values() -> Doc:
    """The chart's values.yaml."""
    loaded: Doc = yaml.safe_load((CHART / "values.yaml").read_text())
    return loaded


def _kubernetes_validate() -> Any:
    try:
        import kubernetes_validate
    except ImportError:
        _missing("kubernetes-validate is not installed (pip install kubernetes-validate)")
    return kubernetes_validate


def _check_service_monitor(monitor: Doc, service: Doc) -> None:
    """kubernetes-validate has no schema for this CRD: check the shape Prometheus needs."""
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(monitor) <= {"apiVersion", "kind", "metadata", "spec"}
    spec = monitor["spec"]
    selector = spec["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert spec["namespaceSelector"]["matchNames"] == ["obgw"]  # the release namespace
    port_names = {port["name"] for port in service["spec"]["ports"]}
    for endpoint in spec["endpoints"]:
        assert endpoint["port"] in port_names
        assert endpoint["path"] == "/metrics"


class TestHelmChart:
    @pytest.mark.parametrize("values", ["default", "production"])
    def test_every_document_is_valid_kubernetes(
        self, request: pytest.FixtureRequest, values: str
    ) -> None:
        """Every rendered manifest passes kubernetes-validate --strict on each version."""
        kv = _kubernetes_validate()
        docs: list[Doc] = request.getfixturevalue(f"{values}_docs")
        assert docs
        for doc in docs:
            if doc["kind"] == "ServiceMonitor":
                _check_service_monitor(doc, _one(docs, "Service"))
                continue
            for version in KUBE_VERSIONS:
                try:
                    kv.validate(doc, version, strict=True)
                except kv.ValidationError as exc:
                    where = ".".join(str(part) for part in exc.path)
                    pytest.fail(f"{doc['kind']} invalid for {version} at {where}: {exc.message}")

    def test_strict_validation_catches_unknown_fields(self, default_docs: list[Doc]) -> None:
        """The validator is strict: a misspelt field in the Deployment is rejected."""
        kv = _kubernetes_validate()
        deployment = copy.deepcopy(_one(default_docs, "Deployment"))
        deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
        with pytest.raises(kv.ValidationError):
            kv.validate(deployment, KUBE_VERSIONS[-1], strict=True)

    def test_deployment_probes(self, default_docs: list[Doc]) -> None:
        """Liveness probes GET /healthz and readiness GET /readyz on the 8000 port."""
        container = _one(default_docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
        assert _probe_path(container, "livenessProbe") == "/healthz"
        assert _probe_path(container, "readinessProbe") == "/readyz"
        assert _probe_path(container, "startupProbe") == "/healthz"
        assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
        assert container["livenessProbe"]["httpGet"]["port"] == "http"
        assert [*container["command"], *container["args"]] == [
            "obgw",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            "8000",
        ]

    @pytest.mark.parametrize("values", ["default", "production"])
    def test_pods_run_non_root_with_read_only_root(
        self, request: pytest.FixtureRequest, values: str
    ) -> None:
        """Gateway and migration pods run as uid 10001, read-only rootfs, no privileges."""
        docs: list[Doc] = request.getfixturevalue(f"{values}_docs")
        pods = [
            doc["spec"]["template"]["spec"] for doc in docs if doc["kind"] in {"Deployment", "Job"}
        ]
        assert pods
        for pod in pods:
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert pod["securityContext"]["runAsUser"] == 10001
            assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
            assert pod["automountServiceAccountToken"] is False
            # Service links would inject OBGW_PORT=tcp://... and break the settings.
            assert pod["enableServiceLinks"] is False
            for container in pod["containers"]:
                context = container["securityContext"]
                assert context["runAsNonRoot"] is True
                assert context["runAsUser"] == 10001
                assert context["readOnlyRootFilesystem"] is True
                assert context["allowPrivilegeEscalation"] is False
                assert context["capabilities"]["drop"] == ["ALL"]
                assert context["seccompProfile"] == {"type": "RuntimeDefault"}
                assert container["resources"]["requests"]
                assert container["resources"]["limits"]["memory"]
                mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
                volumes = {v["name"]: v for v in pod["volumes"]}
                for writable in ("/var/lib/obgw", "/tmp"):
                    assert "emptyDir" in volumes[mounts[writable]]

    def test_default_is_a_single_embedded_sandbox(self, default_docs: list[Doc]) -> None:
        """Defaults: one sandbox replica, no Secrets, no catalogue ConfigMap, no Job."""
        deployment = _one(default_docs, "Deployment")
        assert deployment["spec"]["replicas"] == 1
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        env = _env(container)
        assert env["OBGW_ENVIRONMENT"]["value"] == "sandbox"
        assert env["OBGW_FAPI_PROFILE"]["value"] == "baseline"
        assert env["OBGW_DATA_DIR"]["value"] == "/var/lib/obgw"
        assert env["OBGW_ISSUER"]["value"] == "http://127.0.0.1:8000"
        assert not {"OBGW_POLICY_FILE", "OBGW_DATABASE_URL", "OBGW_REDIS_URL"} & env.keys()
        assert {m["mountPath"] for m in container["volumeMounts"]} == {"/var/lib/obgw", "/tmp"}
        assert not {"ConfigMap", "Job", "HorizontalPodAutoscaler", "PodDisruptionBudget"} & _kinds(
            default_docs
        )

    def test_production_env_comes_from_secrets(self, production_docs: list[Doc]) -> None:
        """Database and Redis URLs and the gateway secret come from secretKeyRef."""
        pod = _one(production_docs, "Deployment")["spec"]["template"]["spec"]
        container = pod["containers"][0]
        env = _env(container)
        assert env["OBGW_ENVIRONMENT"]["value"] == "production"
        assert env["OBGW_ISSUER"]["value"] == "https://api.bank.example"
        assert env["OBGW_FAPI_PROFILE"]["value"] == "strict"
        assert env["OBGW_CORE"]["value"] == "fineract"
        assert env["OBGW_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
            "name": "obgw-db",
            "key": "database-url",
        }
        assert env["OBGW_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {
            "name": "obgw-redis",
            "key": "redis-url",
        }
        assert env["OBGW_FINERACT_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "obgw-fineract"
        assert all("value" not in env[name] for name in ("OBGW_DATABASE_URL", "OBGW_REDIS_URL"))
        assert env["OBGW_SECRET_KEY"]["valueFrom"]["secretKeyRef"] == {
            "name": "obgw-secret",
            "key": "gateway-secret",
        }
        assert "value" not in env["OBGW_SECRET_KEY"]
        assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/var/lib/obgw", "/tmp"}
        assert pod["imagePullSecrets"] == [{"name": "regcred"}]

    def test_policy_catalog_configmap(self, production_docs: list[Doc]) -> None:
        """A policyCatalog value becomes a ConfigMap mounted at OBGW_POLICY_FILE."""
        configmap = _one(production_docs, "ConfigMap")
        assert yaml.safe_load(configmap["data"]["catalog.yaml"]) == yaml.safe_load(
            PRODUCTION["policyCatalog"]
        )
        deployment = _one(production_docs, "Deployment")
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert _env(container)["OBGW_POLICY_FILE"]["value"] == "/etc/obgw/catalog.yaml"
        mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/etc/obgw")
        volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
        assert volume["configMap"]["name"] == configmap["metadata"]["name"]
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert "checksum/policy-catalog" in annotations

    def test_migration_job_is_a_pre_install_hook(self, production_docs: list[Doc]) -> None:
        """The Job runs `obgw db upgrade` as a pre-install/pre-upgrade hook with the same env."""
        job = _one(production_docs, "Job")
        annotations = job["metadata"]["annotations"]
        assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
        assert set(annotations["helm.sh/hook-delete-policy"].split(",")) == {
            "before-hook-creation",
            "hook-succeeded",
        }
        pod = job["spec"]["template"]["spec"]
        assert pod["restartPolicy"] == "Never"
        container = pod["containers"][0]
        assert [*container["command"], *container["args"]] == ["obgw", "db", "upgrade"]
        server = _one(production_docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
        server_env = _env(server)
        # Same settings, except the catalogue: its ConfigMap does not exist yet at pre-install.
        del server_env["OBGW_POLICY_FILE"]
        assert _env(container) == server_env
        assert container["securityContext"] == server["securityContext"]
        # The Service must not send traffic to the migration pod.
        selector = _one(production_docs, "Service")["spec"]["selector"]
        labels = job["spec"]["template"]["metadata"]["labels"]
        assert not selector.items() <= labels.items()

    def test_autoscaling_pdb_and_service_monitor_only_when_enabled(
        self, default_docs: list[Doc], production_docs: list[Doc]
    ) -> None:
        """HPA, PDB and ServiceMonitor are absent by default and present when enabled."""
        optional = {"HorizontalPodAutoscaler", "PodDisruptionBudget", "ServiceMonitor"}
        assert not optional & _kinds(default_docs)
        assert optional <= _kinds(production_docs)
        assert "replicas" not in _one(production_docs, "Deployment")["spec"]
        hpa = _one(production_docs, "HorizontalPodAutoscaler")
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["minReplicas"] == 3
        assert hpa["spec"]["maxReplicas"] == 12
        assert (
            hpa["spec"]["scaleTargetRef"]["name"]
            == _one(production_docs, "Deployment")["metadata"]["name"]
        )
        [metric] = hpa["spec"]["metrics"]
        assert metric["resource"]["name"] == "cpu"
        assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
        pdb = _one(production_docs, "PodDisruptionBudget")
        assert pdb["spec"]["minAvailable"] == 1
        assert pdb["spec"]["selector"] == _one(production_docs, "Deployment")["spec"]["selector"]
        monitor = _one(production_docs, "ServiceMonitor")
        assert monitor["metadata"]["labels"]["release"] == "prometheus"

    def test_fixed_replicas_get_a_pdb_without_hpa(self, render: Render) -> None:
        """replicaCount > 1 without autoscaling: fixed replicas and a PDB, no HPA."""
        docs = _render_ok(render, {**SHARED_STATE, "replicaCount": 3})
        assert _one(docs, "Deployment")["spec"]["replicas"] == 3
        assert "PodDisruptionBudget" in _kinds(docs)
        assert "HorizontalPodAutoscaler" not in _kinds(docs)
        docs = _render_ok(render, {"podDisruptionBudget": {"enabled": False}, **SHARED_STATE})
        assert "PodDisruptionBudget" not in _kinds(docs)

    def test_service_and_network_policy(
        self, default_docs: list[Doc], production_docs: list[Doc]
    ) -> None:
        """ClusterIP 80 -> 8000; ingress only to 8000, egress to DNS, PostgreSQL, Redis, core."""
        service = _one(default_docs, "Service")
        assert service["spec"]["type"] == "ClusterIP"
        assert service["spec"]["ports"] == [
            {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
        ]
        deployment = _one(default_docs, "Deployment")
        assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
        for docs, core_port in ((default_docs, 443), (production_docs, 8443)):
            policy = _one(docs, "NetworkPolicy")["spec"]
            assert policy["policyTypes"] == ["Ingress", "Egress"]
            assert policy["podSelector"]["matchLabels"].items() <= (
                deployment["spec"]["template"]["metadata"]["labels"].items()
            )
            [ingress] = policy["ingress"]
            assert ingress["ports"] == [{"port": 8000, "protocol": "TCP"}]
            assert ingress["from"]
            egress_ports = {
                (port["port"], port["protocol"])
                for rule in policy["egress"]
                for port in rule["ports"]
            }
            assert {(53, "UDP"), (53, "TCP"), (5432, "TCP"), (6379, "TCP")} <= egress_ports
            assert (core_port, "TCP") in egress_ports
        production_policy = _one(production_docs, "NetworkPolicy")["spec"]
        egress_ports = {p["port"] for rule in production_policy["egress"] for p in rule["ports"]}
        assert 4318 in egress_ports  # the OTLP/HTTP collector, configured in production values
        # Prometheus may scrape when the ServiceMonitor is enabled.
        assert len(production_policy["ingress"][0]["from"]) > len(
            _one(default_docs, "NetworkPolicy")["spec"]["ingress"][0]["from"]
        )

    @pytest.mark.parametrize(
        ("remove", "message"),
        [
            ("database", "database.existingSecret"),
            ("redis", "redis.existingSecret"),
            ("gatewaySecret", "gatewaySecret.existingSecret"),
            ("issuer", "config.issuer is required in production"),
            ("fineract", "config.fineract.url"),
        ],
    )
    def test_production_requires_shared_state(
        self, render: Render, remove: str, message: str
    ) -> None:
        """A production release without its Secrets or issuer fails to render, naming them."""
        values = copy.deepcopy(PRODUCTION)
        if remove == "issuer":
            values["config"]["issuer"] = ""
        elif remove == "fineract":
            values["config"]["fineract"]["url"] = ""
        else:
            values[remove]["existingSecret"] = ""
        result = render(values)
        assert result.returncode != 0
        assert message in result.stderr

    @pytest.mark.parametrize(
        "values", [{"replicaCount": 2}, {"autoscaling": {"enabled": True}}], ids=["fixed", "hpa"]
    )
    def test_several_replicas_require_shared_state(self, render: Render, values: Doc) -> None:
        """More than one sandbox replica on embedded SQLite is refused."""
        result = render(values)
        assert result.returncode != 0
        assert "more than one replica" in result.stderr

    def test_invalid_policy_catalog_is_refused(self, render: Render) -> None:
        """A policyCatalog that is not YAML fails the render."""
        result = render({"policyCatalog": "products: [unclosed\n"})
        assert result.returncode != 0
        assert "policyCatalog is not valid YAML" in result.stderr

    def test_notes_render(self, render: Render) -> None:
        """NOTES.txt renders and warns about embedded storage by default."""
        result = render(None, "-notes")
        assert result.returncode == 0, result.stderr
        assert "port-forward svc/obgw 8000:80" in result.stdout
        assert "WARNING: no database.existingSecret" in result.stdout
        result = render(PRODUCTION, "-notes")
        assert result.returncode == 0, result.stderr
        assert "WARNING" not in result.stdout
        assert "obgw keys rotate" in result.stdout

    @pytest.mark.parametrize("overrides", [{}, PRODUCTION], ids=["default", "production"])
    def test_schema_accepts_chart_values(
        self, schema: Doc, default_values: Doc, overrides: Doc
    ) -> None:
        """values.yaml, alone and with the production overrides, satisfies the schema."""
        jsonschema = pytest.importorskip("jsonschema")
        jsonschema.Draft7Validator.check_schema(schema)
        jsonschema.Draft7Validator(schema).validate(_merge(default_values, overrides))

    @pytest.mark.parametrize(
        "overrides",
        [
            {"replicaCount": "three"},
            {"config": {"environment": "staging"}},
            {"config": {"issuer": "http://api.bank.example"}},
            {"config": {"fapiProfile": "lenient"}},
            {"service": {"port": 70000}},
            {"autoscaling": {"enabled": "yes"}},
            {"podDisruptionBudget": {"minAvailable": "half"}},
            {"database": {"existingSecret": "Not A Secret Name"}},
            {"replicas": 3},
            {"config": {"trustedProxies": "10.0.0.0/8"}},
            {"config": {"trustedProxies": ["ingress.local"]}},
            {"config": {"forwardedHeader": "x-real-ip"}},
        ],
        ids=lambda overrides: json.dumps(overrides),
    )
    def test_schema_rejects_bad_values(
        self, schema: Doc, default_values: Doc, overrides: Doc
    ) -> None:
        """values.schema.json rejects wrong types, unknown enums, http issuers and typos."""
        jsonschema = pytest.importorskip("jsonschema")
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.Draft7Validator(schema).validate(_merge(default_values, overrides))


class TestTrustedProxies:
    def test_not_trusted_by_default(self, default_docs: list[Doc]) -> None:
        """By default the gateway is told of no proxy: forwarded headers are ignored."""
        container = _one(default_docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
        assert not {"OBGW_TRUSTED_PROXIES", "OBGW_FORWARDED_HEADER"} & _env(container).keys()

    def test_configured_proxies_reach_the_gateway_and_the_job(self, render: Render) -> None:
        """config.trustedProxies becomes OBGW_TRUSTED_PROXIES, which the settings accept."""
        from gateway.settings import Settings

        values = {
            **PRODUCTION,
            "config": {
                **PRODUCTION["config"],
                "trustedProxies": ["10.0.0.0/8", "2001:db8::/32", "192.0.2.10"],
                "forwardedHeader": "forwarded",
            },
        }
        docs = _render_ok(render, values)
        for kind in ("Deployment", "Job"):
            container = _one(docs, kind)["spec"]["template"]["spec"]["containers"][0]
            env = _env(container)
            assert env["OBGW_TRUSTED_PROXIES"]["value"] == "10.0.0.0/8,2001:db8::/32,192.0.2.10"
            assert env["OBGW_FORWARDED_HEADER"]["value"] == "forwarded"
        settings = Settings(
            trusted_proxies=env["OBGW_TRUSTED_PROXIES"]["value"],
            forwarded_header=env["OBGW_FORWARDED_HEADER"]["value"],
        )
        assert [str(p) for p in settings.trusted_proxies] == [
            "10.0.0.0/8",
            "2001:db8::/32",
            "192.0.2.10/32",
        ]

    def test_schema_accepts_addresses_and_networks(self, schema: Doc, default_values: Doc) -> None:
        """IPv4 and IPv6 addresses and networks pass values.schema.json."""
        jsonschema = pytest.importorskip("jsonschema")
        values = {"config": {"trustedProxies": ["10.0.0.0/8", "fd00::/8", "192.0.2.10", "::1"]}}
        jsonschema.Draft7Validator(schema).validate(_merge(default_values, values))
