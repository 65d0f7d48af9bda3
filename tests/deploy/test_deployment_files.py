"""docker-compose.yml, Dockerfile and .env.example stay right for users (no Docker engine runs here).

The compose file is read the way Docker Compose reads it: YAML (anchors and `<<` merges included), then
`${...}` interpolation of every value from the project's `.env`, then each service's container environment
as `env_file` overlaid by `environment`. The inline Caddyfile is rendered the same way and, where Debian's
caddy is installed, validated by Caddy itself.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from studio.settings import Settings
from tests.support.env import ROOT, TEST_SECRET

SETTINGS = {name.upper() for name in Settings.model_fields}
COMPOSE_ONLY = {"POSTGRES_PASSWORD", "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "DOMAIN"}
LONG_RUNNING = ("caddy", "postgres", "redis", "minio", "app", "worker")
STUDIO = ("app", "app-replica", "worker", "worker-replica")  # the services that run the studio's image
APP_COMMAND = ["streamlit", "run", "studio/ui/shell/server.py"]
WORKER_COMMAND = ["python", "worker.py"]
S3_PORT = 9443
PINNED = re.compile(r"\d+\.\d+(\.\d+)?(-[a-z0-9.]+)?|RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ")

# What a user's .env holds, besides .env.example's defaults: real secrets, and values that compose must
# override (a DATABASE_URL, S3 or PUBLIC_URL left from running without Docker).
DOTENV = {
    "SECRET_KEY": TEST_SECRET,
    "POSTGRES_PASSWORD": "pg-" + "p" * 30,
    "MINIO_ROOT_PASSWORD": "minio-" + "m" * 30,
    "SMTP_SECURITY": "ssl",
    "REQUIRE_EMAIL_VERIFICATION": "false",
    "LOG_LEVEL": "WARNING",
    "DATABASE_URL": "postgresql://me:pw@localhost:5432/mine",
    "REDIS_URL": "redis://localhost:6379/3",
    "S3_BUCKET": "my-bucket",
    "S3_ENDPOINT_URL": "http://localhost:9000",
    "S3_PUBLIC_URL": "http://localhost:9000",
    "PUBLIC_URL": "http://localhost:8501",
    "TRUSTED_PROXIES": "10.0.0.1",
}


# --- reading compose the way Docker Compose does -------------------------------------------------------

_REFERENCE = re.compile(r"\$(?:\$|\{(?P<braced>[^}]*)\}|(?P<name>[A-Za-z_][A-Za-z0-9_]*))")
_EXPRESSION = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<operand>.*))?", re.S)


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR:?error}`, `${VAR:+other}` (and the forms
    without `:`, which test "set" instead of "set and not empty"), with `$$` for a literal `$`."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        if match.group("name"):
            return env.get(match.group("name"), "")
        expression = _EXPRESSION.fullmatch(match.group("braced"))
        assert expression, f"compose cannot read {match.group(0)}"
        value, op, operand = env.get(expression["name"]), expression["op"], expression["operand"]
        present = bool(value) if op and op.startswith(":") else value is not None
        if op in (":-", "-"):
            return value if present and value is not None else operand
        if op in (":?", "?"):
            if not present:
                raise LookupError(operand)
            return value or ""
        if op in (":+", "+"):
            return operand if present else ""
        return value or ""

    return _REFERENCE.sub(replace, text)


def interpolated(node: Any, env: Mapping[str, str]) -> Any:
    """Every string value of the parsed file interpolated (keys are not, as in Compose)."""
    if isinstance(node, dict):
        return {key: interpolated(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolated(value, env) for value in node]
    return interpolate(node, env) if isinstance(node, str) else node


def dotenv_of(lines: list[str]) -> dict[str, str]:
    return {
        match[1]: match[2].strip() for line in lines if (match := re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line))
    }


def container_environment(service: dict[str, Any], dotenv: dict[str, str]) -> dict[str, str]:
    """What the container gets: each env_file (only `.env` is expected here) overlaid by `environment`."""
    environment: dict[str, str] = {}
    for entry in service.get("env_file", []):
        path = entry["path"] if isinstance(entry, dict) else entry
        assert path == ".env", path
        environment |= dotenv
    return environment | {key: str(value) for key, value in service.get("environment", {}).items()}


def caddy_sites(content: str) -> dict[str, list[str]]:
    """The Caddyfile's site blocks: address -> the block's lines, without comments and blank lines."""
    sites: dict[str, list[str]] = {}
    body: list[str] | None = None
    for raw in content.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if body is None:
            assert line.endswith("{"), f"unexpected line outside a site block: {raw!r}"
            body = sites.setdefault(line.removesuffix("{").strip(), [])
        elif raw.startswith("}"):
            body = None
        else:
            body.append(line)
    return sites


@pytest.fixture(scope="module")
def raw_compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


@pytest.fixture(scope="module")
def env_example() -> list[str]:
    return (ROOT / ".env.example").read_text().splitlines()


@pytest.fixture(scope="module")
def dotenv(env_example: list[str]) -> dict[str, str]:
    return dotenv_of(env_example) | DOTENV


@pytest.fixture(scope="module")
def compose(raw_compose: dict[str, Any], dotenv: dict[str, str]) -> dict[str, Any]:
    resolved: dict[str, Any] = interpolated(raw_compose, dotenv)
    return resolved


def rendered_caddyfile(raw_compose: dict[str, Any], dotenv: dict[str, str], domain: str) -> str:
    content: str = interpolated(raw_compose, dotenv | {"DOMAIN": domain})["configs"]["caddyfile"]["content"]
    return content


# --- services, images, ports ----------------------------------------------------------------------------


def test_the_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {*LONG_RUNNING, *STUDIO, "minio-bucket"}
    assert services["postgres"]["image"].startswith("postgres:16.")
    assert services["redis"]["image"].startswith("redis:7.")
    assert services["caddy"]["image"].startswith("caddy:2.")
    assert services["minio"]["image"] == services["minio-bucket"]["image"]  # the S3 image carries mc


def test_every_image_is_pinned_to_a_version(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if "image" not in service:
            assert service["build"] == ".", name  # the studio's own image, from the Dockerfile
            continue
        repository, _, tag = service["image"].rpartition(":")
        assert repository, f"{name}: {service['image']} has no tag"
        assert "/" not in tag, f"{name}: {service['image']} has no tag"
        assert PINNED.fullmatch(tag), f"{name}: {service['image']} is not pinned to a version"


def test_only_caddy_is_published(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if name != "caddy":
            assert "ports" not in service, f"{name} must be reached through Caddy only"
    published = {port.split(":")[0] for port in compose["services"]["caddy"]["ports"]}
    assert published == {"80", "443", str(S3_PORT)}


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
    ("service", "path"),
    [
        ("postgres", "/var/lib/postgresql/data"),
        ("redis", "/data"),
        ("minio", "/data"),
        ("caddy", "/data"),  # certificates and the internal CA, which browsers are told to trust
    ],
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
    for name in STUDIO:
        depends = compose["services"][name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert depends["minio-bucket"]["condition"] == "service_completed_successfully"


def test_app_and_worker_run_the_studio_in_production_mode(compose: dict[str, Any]) -> None:
    app, worker = compose["services"]["app"], compose["services"]["worker"]
    assert app["command"][:3] == APP_COMMAND
    assert "/healthz" in " ".join(app["healthcheck"]["test"])
    assert worker["command"][:2] == WORKER_COMMAND
    assert worker["healthcheck"]["test"] == ["CMD", "python", "worker.py", "--check"]
    assert app["environment"] == worker["environment"]
    assert set(app["environment"]) <= SETTINGS


# --- settings -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", STUDIO)
def test_every_setting_of_env_example_reaches_the_studio(
    compose: dict[str, Any], dotenv: dict[str, str], env_example: list[str], name: str
) -> None:
    service = compose["services"][name]
    assert service["env_file"] == [{"path": ".env", "required": False}]
    environment = container_environment(service, dotenv)
    assert set(dotenv_of(env_example)) <= set(environment)
    # Values only .env sets arrive as the user wrote them.
    for key in ("SMTP_SECURITY", "REQUIRE_EMAIL_VERIFICATION", "LOG_LEVEL"):
        assert environment[key] == DOTENV[key], key


@pytest.mark.parametrize("name", STUDIO)
def test_compose_values_override_the_env_file(
    compose: dict[str, Any], dotenv: dict[str, str], name: str
) -> None:
    environment = container_environment(compose["services"][name], dotenv)
    assert environment["DATABASE_URL"] == (
        f"postgresql+psycopg://studio:{DOTENV['POSTGRES_PASSWORD']}@postgres:5432/studio"
    )
    assert environment["REDIS_URL"] == "redis://redis:6379/0"
    assert environment["S3_BUCKET"] == "studio"
    assert environment["S3_ENDPOINT_URL"] == "http://minio:9000"
    assert environment["S3_ACCESS_KEY_ID"] == dotenv["MINIO_ROOT_USER"]
    assert environment["S3_SECRET_ACCESS_KEY"] == DOTENV["MINIO_ROOT_PASSWORD"]
    assert environment["PUBLIC_URL"] == "https://localhost"
    assert environment["S3_PUBLIC_URL"] == f"https://localhost:{S3_PORT}"
    assert environment["TRUSTED_PROXIES"] == compose["networks"]["default"]["ipam"]["config"][0]["subnet"]


@pytest.mark.parametrize(
    ("domain", "public_url", "provider_inputs"),
    [("", "https://localhost", "data"), ("studio.example.org", "https://studio.example.org", "url")],
)
def test_the_compose_environment_is_a_valid_production_setup(
    raw_compose: dict[str, Any],
    dotenv: dict[str, str],
    domain: str,
    public_url: str,
    provider_inputs: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resolved = interpolated(raw_compose, dotenv | {"DOMAIN": domain})
    for name in SETTINGS | set(dotenv):
        monkeypatch.delenv(name, raising=False)
    for key, value in container_environment(resolved["services"]["app"], dotenv).items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)  # no .env here: only the container's environment counts
    settings = Settings()
    assert settings.problems() == []
    assert not settings.embedded
    assert (settings.database_mode, settings.queue_mode, settings.storage_mode) == ("postgres", "rq", "s3")
    assert settings.public_url == public_url
    assert settings.s3_public_url == f"{public_url}:{S3_PORT}"
    assert settings.provider_inputs_mode == provider_inputs  # fal fetches URLs only from a real domain
    assert settings.require_email_verification is False
    subnet = ipaddress.ip_network(settings.trusted_proxies)
    assert ipaddress.ip_address("172.28.0.2") in subnet  # any address Docker gives Caddy on the network


def test_compose_variables_are_documented(env_example: list[str]) -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))
    assert used <= set(dotenv_of(env_example))


def test_no_secret_has_a_default_in_compose() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for secret in ("SECRET_KEY", "POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD"):
        uses = re.findall(r"\$\{" + secret + r"(:?[-?+][^}]*)?\}", text)
        assert uses, secret
        assert all(use.startswith(":?") for use in uses), f"{secret} must be required, never defaulted"


def test_compose_refuses_to_start_without_its_secrets(
    raw_compose: dict[str, Any], dotenv: dict[str, str]
) -> None:
    for secret in ("SECRET_KEY", "POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD"):
        with pytest.raises(LookupError, match=f"set {secret} in .env"):
            interpolated(raw_compose, dotenv | {secret: ""})


# --- the reverse proxy ----------------------------------------------------------------------------------


def test_caddy_serves_the_app_and_s3_over_https_on_localhost(
    raw_compose: dict[str, Any], dotenv: dict[str, str], compose: dict[str, Any]
) -> None:
    caddy = compose["services"]["caddy"]
    assert caddy["configs"] == [{"source": "caddyfile", "target": "/etc/caddy/Caddyfile"}]
    content = rendered_caddyfile(raw_compose, dotenv, "")
    assert "auto_https" not in content  # automatic HTTPS stays on, and with it the HTTP -> HTTPS redirect
    sites = caddy_sites(content)
    assert set(sites) == {"localhost", f"localhost:{S3_PORT}"}  # the hosts of PUBLIC_URL and S3_PUBLIC_URL
    app, s3 = sites["localhost"], sites[f"localhost:{S3_PORT}"]
    assert "tls internal" in app
    assert "tls internal" in s3
    assert "dynamic a app 8501 {" in app or "reverse_proxy app:8501" in app
    assert "reverse_proxy minio:9000" in s3
    assert "@write not method GET HEAD OPTIONS" in s3  # browsers only download presigned images


def test_a_real_domain_gets_public_certificates(raw_compose: dict[str, Any], dotenv: dict[str, str]) -> None:
    sites = caddy_sites(rendered_caddyfile(raw_compose, dotenv, "studio.example.org"))
    assert set(sites) == {"studio.example.org", f"studio.example.org:{S3_PORT}"}
    for body in sites.values():
        assert not any(line.startswith("tls") for line in body)  # ACME, the default for a public name


def test_the_scale_profile_runs_two_apps_with_sticky_sessions_and_three_workers(
    raw_compose: dict[str, Any], dotenv: dict[str, str], compose: dict[str, Any]
) -> None:
    def containers(command: list[str], profiles: set[str]) -> int:
        return sum(
            service.get("deploy", {}).get("replicas", 1)
            for service in compose["services"].values()
            if service.get("command", [])[: len(command)] == command
            and set(service.get("profiles", [])) <= profiles
        )

    assert containers(APP_COMMAND, set()) == 1
    assert containers(WORKER_COMMAND, set()) == 1
    assert containers(APP_COMMAND, {"scale"}) >= 2
    assert containers(WORKER_COMMAND, {"scale"}) == 3
    # Caddy finds every app container under the one DNS name and pins each browser to one of them.
    assert "app" in compose["services"]["app-replica"]["networks"]["default"]["aliases"]
    app_site = caddy_sites(rendered_caddyfile(raw_compose, dotenv, ""))["localhost"]
    assert "dynamic a app 8501 {" in app_site
    assert any(line.startswith("lb_policy cookie") for line in app_site)


@pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy is not installed (apt-get install caddy)")
@pytest.mark.parametrize("domain", ["", "studio.example.org"])
def test_caddy_accepts_the_caddyfile(
    raw_compose: dict[str, Any], dotenv: dict[str, str], domain: str, tmp_path: Path
) -> None:
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text(rendered_caddyfile(raw_compose, dotenv, domain))
    home = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path)}
    command = ["caddy", "validate", "--adapter", "caddyfile", "--config", str(caddyfile)]
    validated = subprocess.run(command, env=home, capture_output=True, text=True, timeout=60)
    assert validated.returncode == 0, validated.stderr
    command[1] = "adapt"
    adapted = subprocess.run(command, env=home, capture_output=True, text=True, timeout=60, check=True)
    issuers = {
        issuer["module"]
        for policy in json.loads(adapted.stdout).get("apps", {}).get("tls", {}).get("automation", {})
        .get("policies", [])
        for issuer in policy.get("issuers", [])
    }  # fmt: skip
    assert issuers == ({"internal"} if not domain else set())


# --- files kept out of git and out of the image ---------------------------------------------------------


@pytest.mark.parametrize("ignore_file", [".gitignore", ".dockerignore"])
def test_streamlit_secrets_are_never_committed_nor_copied_into_the_image(ignore_file: str) -> None:
    assert ".streamlit/secrets.toml" in (ROOT / ignore_file).read_text().splitlines()


# --- .env.example and the image -------------------------------------------------------------------------


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
