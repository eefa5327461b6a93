"""deploy/: the compose file validates against the compose spec and the Kubernetes manifests against the
Kubernetes schemas, offline (check-jsonschema and kubernetes-validate bundle them), and both say what the
distributed runtime needs: the service names others rely on, persistence, security, one queue per worker."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
MANIFESTS = sorted((DEPLOY / "k8s").glob("*.yaml"))


def _check_compose(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                           str(path)], capture_output=True, text=True)


def _check_manifests(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kubernetes_validate", "--strict", *map(str, paths)],
                          capture_output=True, text=True)


def test_compose_file_is_valid_compose():
    result = _check_compose(DEPLOY / "compose.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_validator_rejects_a_broken_file(tmp_path):
    """The check is real: a service whose `ports` is a string and an unknown key both fail."""
    broken = tmp_path / "compose.yaml"
    broken.write_text("services:\n  redis:\n    image: redis\n    ports: 6379\n    restart_policy: always\n")
    assert _check_compose(broken).returncode != 0


def test_compose_services_persistence_and_security():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"elasticsearch", "redis", "worker-gather", "worker-score", "worker-alerts", "beat", "web"} <= set(services)
    es = services["elasticsearch"]
    assert es["environment"]["discovery.type"] == "single-node"
    assert es["environment"]["xpack.security.enabled"] == "true"
    assert any(str(port).endswith(":9200:9200") for port in es["ports"])
    assert all(str(port).startswith("127.0.0.1:") for s in services.values() for port in s.get("ports", []))
    redis_command = services["redis"]["command"]
    assert redis_command[redis_command.index("--appendonly") + 1] == "yes"
    for name, queue in (("worker-gather", "gather"), ("worker-score", "score"), ("worker-alerts", "alerts")):
        command = services[name]["command"]
        assert command[:2] == ["listener", "worker"] and command[command.index("--queues") + 1] == queue
    assert services["beat"]["command"] == ["listener", "beat"]
    assert services["worker-score"]["environment"]["LISTENER_BROKER_URL"].startswith("redis://redis:6379")


def test_env_example_names_every_variable_the_compose_file_reads():
    text = (DEPLOY / "compose.yaml").read_text()
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text))
    example = (DEPLOY / ".env.example").read_text()
    defined = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", example, re.MULTILINE))
    assert used and sorted(used - defined) == []


def test_kubernetes_manifests_are_valid():
    assert len(MANIFESTS) >= 6
    result = _check_manifests(*MANIFESTS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_kubernetes_validator_rejects_a_broken_manifest(tmp_path):
    manifest = yaml.safe_load_all((DEPLOY / "k8s" / "worker-score.yaml").read_text())
    deployment = next(doc for doc in manifest if doc["kind"] == "Deployment")
    deployment["spec"]["replicas"] = "two"
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(deployment))
    result = _check_manifests(broken)
    assert result.returncode != 0 and "replicas" in result.stdout + result.stderr


def test_workers_scale_horizontally_and_beat_runs_once():
    docs = [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]
    by_kind_name = {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs}
    for name in ("worker-gather", "worker-score"):
        hpa = by_kind_name[("HorizontalPodAutoscaler", name)]
        assert hpa["spec"]["scaleTargetRef"]["name"] == name and hpa["spec"]["maxReplicas"] > 1
    beat = by_kind_name[("Deployment", "beat")]
    assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"]["type"] == "Recreate"
    redis_args = by_kind_name[("StatefulSet", "redis")]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert redis_args[redis_args.index("--appendonly") + 1] == "yes"


@pytest.mark.parametrize("path", [DEPLOY / "compose.yaml", *MANIFESTS], ids=lambda p: p.name)
def test_no_real_secret_is_committed(path):
    text = path.read_text()
    assert not re.search(r"(?i)(password|secret|key)\s*[:=]\s*['\"]?[A-Za-z0-9+/]{24,}", text)


def test_the_web_app_is_a_service_in_compose_and_kubernetes():
    """The same `listener serve` in both, reachable from this machine only in compose, with its own volume for
    users.db and corrections.db (one replica in Kubernetes: they are SQLite files)."""
    web = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]["web"]
    assert web["command"][:2] == ["listener", "serve"] and "profiles" not in web
    assert web["ports"] == ["127.0.0.1:8000:8000"] and any(v.endswith(":/data") for v in web["volumes"])
    docs = [doc for doc in yaml.safe_load_all((DEPLOY / "k8s" / "web.yaml").read_text()) if doc]
    deployment = next(doc for doc in docs if doc["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["command"][:2] == ["listener", "serve"]
    assert {doc["kind"] for doc in docs} == {"Deployment", "PersistentVolumeClaim", "Service"}
