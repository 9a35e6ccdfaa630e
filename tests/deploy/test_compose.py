"""docker-compose.yml: valid against the Compose Specification schema, and wired as documented.

The schema is the one check-jsonschema vendors (``--builtin-schema vendor.compose-spec``), so the
test runs offline. No Docker engine is needed or used.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from gateway.settings import load_settings
from tests.deploy.conftest import REPO

COMPOSE = REPO / "docker-compose.yml"
SERVICES = {"postgres", "asterisk", "gateway", "prometheus", "grafana"}


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    check_jsonschema = Path(sys.executable).with_name("check-jsonschema")
    return subprocess.run(  # noqa: S603 - fixed argv, no shell
        [str(check_jsonschema), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = YAML(typ="safe", pure=True).load(COMPOSE)
    return loaded


def test_compose_file_validates_against_the_schema() -> None:
    result = validate(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ("condition: service_healthy\n", "condition: service_happy\n", "service_happy"),
        ("      interval: 5s\n", "      interval: 5s\n      flavour: mint\n", "flavour"),
        ("    networks: [dialer]\n\n  asterisk:", "    networks: dialer\n\n  asterisk:", "dialer"),
        ("\nvolumes:\n", "\nvolumez:\n", "volumez"),
    ],
)  # fmt: skip
def test_a_broken_compose_file_is_rejected(
    tmp_path: Path, old: str, new: str, complaint: str
) -> None:
    text = COMPOSE.read_text()
    assert old in text
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(text.replace(old, new, 1))
    result = validate(broken)
    assert result.returncode == 1
    assert complaint in result.stdout + result.stderr


def test_every_service_is_there_with_a_health_check() -> None:
    services = compose()["services"]
    assert set(services) == SERVICES
    for name, service in services.items():
        assert "test" in service["healthcheck"], name
        assert service["networks"] == ["dialer"], name


def test_dependencies_name_real_services_and_wait_for_health() -> None:
    services = compose()["services"]
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
    gateway = services["gateway"]["depends_on"]
    assert gateway["postgres"]["condition"] == "service_healthy"
    assert gateway["asterisk"]["condition"] == "service_healthy"


def test_the_gateway_is_configured_by_environment_and_a_mounted_toml() -> None:
    gateway = compose()["services"]["gateway"]
    env = gateway["environment"]
    assert env["DIALER_HTTP_HOST"] == "0.0.0.0"
    assert env["DIALER_DATABASE_URL"].startswith("postgresql://dialer:")
    assert "@postgres:5432/dialer" in env["DIALER_DATABASE_URL"]
    mount = "./deploy/gateway/dialer.toml:/etc/dialer/dialer.toml:ro"
    assert mount in gateway["volumes"]
    assert gateway["command"][1:3] == ["--config", "/etc/dialer/dialer.toml"]
    settings = load_settings(
        {"DIALER_DATABASE_URL": "postgresql://dialer:x@postgres:5432/dialer"},
        REPO / "deploy" / "gateway" / "dialer.toml",
    )
    (server,) = settings.servers
    assert server.host == "asterisk"  # the compose service name
    assert server.trunk == "PJSIP/{number}@carrier-a"


def test_mounted_paths_and_build_files_exist() -> None:
    services = compose()["services"]
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), f"{name}: {source} does not exist"
        build = service.get("build")
        if build is not None:
            assert (REPO / build["context"] / build["dockerfile"]).is_file(), name
    asterisk_dockerfile = (REPO / "docker" / "asterisk" / "Dockerfile").read_text()
    assert "COPY asterisk_conf/ /etc/asterisk/" in asterisk_dockerfile


def test_prometheus_gets_the_rules_and_scrapes_the_gateway_by_name() -> None:
    prometheus = compose()["services"]["prometheus"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    config = YAML(typ="safe", pure=True).load(REPO / "deploy" / "prometheus" / "prometheus.yml")
    assert config["rule_files"] == ["rules/*.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["dialer-gateway"]["static_configs"][0]["targets"] == ["gateway:8080"]
