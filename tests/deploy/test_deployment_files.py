"""docker-compose.yml, Dockerfile and .env.example stay right for users (no Docker engine runs here)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from studio.settings import Settings
from tests.support.env import ROOT

SETTINGS = {name.upper() for name in Settings.model_fields}
COMPOSE_ONLY = {"POSTGRES_PASSWORD", "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"}
LONG_RUNNING = ("postgres", "redis", "minio", "app", "worker")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


@pytest.fixture(scope="module")
def env_example() -> list[str]:
    return (ROOT / ".env.example").read_text().splitlines()


def test_the_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {*LONG_RUNNING, "minio-bucket"}
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert services["minio"]["image"].startswith("minio/minio")


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_every_long_running_service_has_a_healthcheck_and_restarts(
    compose: dict[str, Any], name: str
) -> None:
    service = compose["services"][name]
    check = service["healthcheck"]
    assert check["test"][0] in ("CMD", "CMD-SHELL")
    assert check["interval"]
    assert service["restart"] == "unless-stopped"


@pytest.mark.parametrize(
    ("service", "path"), [("postgres", "/var/lib/postgresql/data"), ("redis", "/data"), ("minio", "/data")]
)
def test_data_lives_in_named_volumes(compose: dict[str, Any], service: str, path: str) -> None:
    mounts = compose["services"][service]["volumes"]
    volume = next(mount.split(":")[0] for mount in mounts if mount.endswith(":" + path))
    assert volume in compose["volumes"]


def test_the_bucket_is_created_private_before_the_app_starts(compose: dict[str, Any]) -> None:
    init = compose["services"]["minio-bucket"]
    script = " ".join(init["command"])
    assert "mc mb --ignore-existing local/studio" in script
    assert "mc anonymous set none local/studio" in script
    assert init["depends_on"]["minio"]["condition"] == "service_healthy"
    for name in ("app", "worker"):
        depends = compose["services"][name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert depends["minio-bucket"]["condition"] == "service_completed_successfully"
        assert compose["services"][name]["environment"]["S3_BUCKET"] == "studio"


def test_app_and_worker_run_the_studio_in_production_mode(compose: dict[str, Any]) -> None:
    app, worker = compose["services"]["app"], compose["services"]["worker"]
    assert app["command"][:3] == ["streamlit", "run", "studio/ui/shell/server.py"]
    assert "8501:8501" in app["ports"]
    assert "/healthz" in " ".join(app["healthcheck"]["test"])
    assert worker["command"][:2] == ["python", "worker.py"]
    assert worker["healthcheck"]["test"] == ["CMD", "python", "worker.py", "--check"]
    environment = app["environment"]
    assert environment == worker["environment"]
    assert set(environment) <= SETTINGS
    for switch in ("DATABASE_URL", "REDIS_URL", "S3_BUCKET", "S3_ENDPOINT_URL", "SECRET_KEY"):
        assert environment[switch], switch
    assert environment["DATABASE_URL"].startswith("postgresql+psycopg://studio:")
    assert environment["DATABASE_URL"].endswith("@postgres:5432/studio")
    assert environment["REDIS_URL"] == "redis://redis:6379/0"


def test_no_secret_has_a_default_in_compose(compose: dict[str, Any]) -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for secret in ("SECRET_KEY", "POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD"):
        uses = re.findall(r"\$\{" + secret + r"(:?[-?][^}]*)?\}", text)
        assert uses, secret
        assert all(use.startswith(":?") for use in uses), f"{secret} must be required, never defaulted"


def test_compose_variables_are_documented(env_example: list[str]) -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))
    documented = {match.group(1) for line in env_example if (match := re.match(r"^([A-Z][A-Z0-9_]*)=", line))}
    assert used <= documented


def test_env_example_lists_every_setting_with_a_comment(env_example: list[str]) -> None:
    keys = {}
    for index, line in enumerate(env_example):
        if match := re.match(r"^([A-Z][A-Z0-9_]*)=", line):
            keys[match.group(1)] = index
    assert set(keys) == SETTINGS | COMPOSE_ONLY
    for key, index in keys.items():
        assert env_example[index - 1].startswith("# "), f"{key} has no comment above it"


def test_env_example_holds_no_secret_values(env_example: list[str]) -> None:
    for line in env_example:
        for secret in (
            "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "S3_SECRET_ACCESS_KEY", "SMTP_PASSWORD", "FAL_KEY"
        ):  # fmt: skip
            if line.startswith(secret + "="):
                assert line == secret + "=", line
        for secret in ("POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD"):
            if line.startswith(secret + "="):
                assert line == secret + "=", line


def test_env_example_as_is_runs_embedded_mode(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text())
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.embedded
    assert settings.problems() == []


def test_the_image_runs_the_same_entry_as_compose() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["streamlit", "run", "studio/ui/shell/server.py"' in dockerfile
    assert "uv sync --frozen --no-dev" in dockerfile
    assert re.search(r"^USER studio$", dockerfile, re.M)  # not root
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert {".env", "data", ".venv"} <= set(ignored)
