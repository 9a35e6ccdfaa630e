"""docker-compose.yml: valid against the Compose Specification schema, and wired as documented.

The schema is the one check-jsonschema vendors (``--builtin-schema vendor.compose-spec``), so the
test runs offline. No Docker engine is needed or used.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
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
        {
            "DIALER_DATABASE_URL": "postgresql://dialer:x@postgres:5432/dialer",
            "DIALER_SERVER_ASTERISK_1_AMI_SECRET": "from-env",
        },
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


SECRETS = {
    "POSTGRES_PASSWORD",
    "AMI_SECRET",
    "ARI_PASSWORD",
    "DIALER_API_TOKEN",
    "GRAFANA_ADMIN_PASSWORD",
}
_REFERENCE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(:?[-?+])?([^}]*)\}")


def env_example() -> dict[str, str]:
    lines = (REPO / ".env.example").read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if line and not line.startswith("#")]
    return {key: value for key, value in pairs}


def test_images_are_pinned_and_the_gateway_tag_is_the_project_version() -> None:
    services = compose()["services"]
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert re.fullmatch(r"postgres:17\.\d+(-[a-z]+)?", services["postgres"]["image"])
    assert services["gateway"]["image"] == f"dialer/gateway:{version}"
    for name, service in services.items():
        _, tag = service["image"].rsplit(":", 1)
        assert re.match(r"v?\d+\.\d+(\.\d+)?", tag), f"{name}: {service['image']} is not pinned"
    asterisk_tag = services["asterisk"]["image"].rsplit(":", 1)[1]
    dockerfile = (REPO / "docker" / "asterisk" / "Dockerfile").read_text()
    assert f"ARG ASTERISK_VERSION={asterisk_tag}\n" in dockerfile
    for path in ("docker/asterisk/Dockerfile", "docker/gateway/Dockerfile"):
        for line in (REPO / path).read_text().splitlines():
            if line.startswith("FROM "):
                assert re.search(r":(\d+\.\d+\.\d+-|\$\{DEBIAN_RELEASE\}-)", line), line


def test_the_gateway_image_holds_every_package_it_installs() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    dockerfile = (REPO / "docker" / "gateway" / "Dockerfile").read_text()
    for package in packages:
        name = package.rstrip("*")
        assert f"COPY {name}/ {name}/\n" in dockerfile, name


def test_each_secret_is_set_in_one_place_with_no_default() -> None:
    text = COMPOSE.read_text()
    assert "change-me" not in "\n".join(line.split("#")[0] for line in text.splitlines())
    references = _REFERENCE.findall(text)
    assert {name for name, _, _ in references} == SECRETS == set(env_example())
    for name, operator, message in references:
        assert operator == ":?", f"${{{name}}} must be required (:?), not {operator or 'bare'}"
        assert message.startswith(f"set {name} in .env"), name
    assert set(env_example().values()) == {""}  # nothing that would start as it is
    toml = (REPO / "deploy" / "gateway" / "dialer.toml").read_text()
    assert "ami_secret =" not in toml
    assert "ari_password =" not in toml
    assert ".env\n" in (REPO / ".gitignore").read_text()


def _resolve(value: str, env: dict[str, str]) -> str:
    """Compose's interpolation of ``${NAME:?message}``: an unset or empty NAME is an error."""

    def one(match: re.Match[str]) -> str:
        if not env.get(match.group(1)):
            raise ValueError(match.group(3))
        return env[match.group(1)]

    return _REFERENCE.sub(one, value)


def test_the_gateway_gets_its_secrets_and_a_stable_instance_id_from_compose() -> None:
    gateway = compose()["services"]["gateway"]
    filled = {name: f"{name.lower().replace('_', '-')}-1x" for name in SECRETS}
    env = {key: _resolve(str(value), filled) for key, value in gateway["environment"].items()}
    assert env["DIALER_INSTANCE_ID"] == "gateway-1"
    settings = load_settings(env, REPO / "deploy" / "gateway" / "dialer.toml")
    (server,) = settings.servers
    assert server.ami_secret.reveal() == filled["AMI_SECRET"]
    assert server.ari_password.reveal() == filled["ARI_PASSWORD"]
    assert settings.instance_id == "gateway-1"
    asterisk = compose()["services"]["asterisk"]["environment"]
    assert _resolve(asterisk["AMI_SECRET"], filled) == server.ami_secret.reveal()
    with pytest.raises(ValueError, match=r"set AMI_SECRET in \.env"):
        _resolve(gateway["environment"]["DIALER_SERVER_ASTERISK_1_AMI_SECRET"], {})


def test_prometheus_does_not_publish_the_lifecycle_api() -> None:
    prometheus = compose()["services"]["prometheus"]
    assert not any("lifecycle" in arg for arg in prometheus["command"])


@pytest.mark.parametrize(
    ("ami", "ari", "complaint"),
    [
        ("change-me-ami", "Str0ng.ari", "change-me placeholder"),
        ("Str0ng.ami", "change-me-ari", "change-me placeholder"),
        ("", "Str0ng.ari", "set AMI_SECRET"),
        ("bad secret", "Str0ng.ari", "letters, digits"),
    ],
)
def test_the_asterisk_entrypoint_refuses_placeholders_and_empty_secrets(
    ami: str, ari: str, complaint: str
) -> None:
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        ["/bin/sh", str(REPO / "docker" / "asterisk" / "entrypoint.sh"), "true"],
        env={"AMI_SECRET": ami, "ARI_PASSWORD": ari, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert result.returncode != 0
    assert complaint in result.stderr
