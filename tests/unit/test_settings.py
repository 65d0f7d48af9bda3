"""Settings: embedded by default, one switch per production service, no placeholder secrets outside."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio import bootstrap
from studio.adapters.mail import OutboxMailer, SmtpMailer
from studio.adapters.queue import InProcessQueue, RQQueue
from studio.adapters.storage import LocalStorage, S3Storage
from studio.errors import ConfigError
from studio.settings import Settings, is_placeholder, load
from tests.support.env import TEST_SECRET

REAL = {"SECRET_KEY": TEST_SECRET}


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    """Settings as the app reads them: from the environment (and no `.env` file)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings()


def test_nothing_configured_is_embedded_mode(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = settings_from({}, monkeypatch, tmp_path)
    assert settings.embedded
    assert settings.describe() == {
        "mode": "embedded",
        "database": "sqlite",
        "jobs": "in-process",
        "storage": "local",
        "mail": "outbox",
        "provider": "demo",
        "payments": "off",
    }
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path / 'data' / 'studio.db'}"
    assert settings.dev_sign_in_enabled
    assert settings.problems() == []


def test_embedded_services_are_local(tmp_path: Path) -> None:
    services = bootstrap.build_services(Settings(_env_file=None, data_dir=tmp_path))
    try:
        assert isinstance(services.storage, LocalStorage)
        assert isinstance(services.queue, InProcessQueue)
        assert isinstance(services.mailer, OutboxMailer)
        assert services.database.backend == "sqlite"
        # A random secret key is made once and kept, so signed links survive a restart.
        key = tmp_path / "secret_key"
        assert len(key.read_text()) >= 32
        assert key.stat().st_mode & 0o777 == 0o600
        assert bootstrap.secret_key(services.settings) == key.read_text()
    finally:
        services.close()


@pytest.mark.parametrize(
    ("name", "value", "part", "production"),
    [
        ("DATABASE_URL", "postgresql+psycopg://studio:s3cret-pass@db:5432/studio", "database", "postgres"),
        ("REDIS_URL", "redis://redis:6379/0", "jobs", "rq"),
        ("S3_BUCKET", "studio-images", "storage", "s3"),
        ("SMTP_HOST", "smtp.example.org", "mail", "smtp"),
    ],
)
def test_each_setting_switches_one_part_to_production(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str, part: str, production: str
) -> None:
    settings = settings_from(REAL | {name: value}, monkeypatch, tmp_path)
    described = settings.describe()
    assert described["mode"] == "production"
    assert described[part] == production
    untouched = {
        "database": "sqlite", "jobs": "in-process", "storage": "local", "mail": "outbox", "provider": "demo"
    }  # fmt: skip
    del untouched[part]
    assert {key: described[key] for key in untouched} == untouched
    assert not settings.dev_sign_in_enabled
    assert settings.problems() == []


def test_production_settings_build_production_adapters(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        secret_key=TEST_SECRET,
        redis_url="redis://127.0.0.1:6379/0",
        s3_bucket="studio-images",
        s3_endpoint_url="http://127.0.0.1:9000",
        s3_access_key_id="studio",
        s3_secret_access_key="a-real-secret-value",
        smtp_host="127.0.0.1",
    )
    services = bootstrap.build_services(settings)
    try:
        assert isinstance(services.storage, S3Storage)
        assert isinstance(services.queue, RQQueue)
        assert isinstance(services.mailer, SmtpMailer)
    finally:
        services.close()


def test_postgres_urls_get_the_psycopg_driver(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for given in ("postgres://u:pw-1234@h/db", "postgresql://u:pw-1234@h/db"):
        settings = settings_from(REAL | {"DATABASE_URL": given}, monkeypatch, tmp_path)
        assert settings.sqlalchemy_url == "postgresql+psycopg://u:pw-1234@h/db"


def test_the_env_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        f"REDIS_URL=redis://cache:6379/2\nSECRET_KEY={TEST_SECRET}\nDATABASE_URL=\n"
    )
    settings = settings_from({}, monkeypatch, tmp_path)
    assert settings.queue_mode == "rq"
    assert settings.database_mode == "sqlite"  # an empty value counts as unset


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DATABASE_URL": "postgresql://u:real-pass-123@db/studio"}, "SECRET_KEY is missing"),
        (
            {"REDIS_URL": "redis://r:6379/0", "SECRET_KEY": "change-me"},
            "SECRET_KEY is missing or a placeholder",
        ),
        ({"REDIS_URL": "redis://r:6379/0", "SECRET_KEY": "<your secret key>"}, "SECRET_KEY"),
        ({"REDIS_URL": "redis://r:6379/0", "SECRET_KEY": "short-but-real"}, "SECRET_KEY is too short"),
        (
            REAL | {"DATABASE_URL": "postgresql://studio:change-me@db/studio"},
            "DATABASE_URL contains a placeholder",
        ),
        (REAL | {"REDIS_URL": "redis://:changeme@r:6379/0"}, "REDIS_URL contains a placeholder"),
        (
            REAL | {"S3_BUCKET": "b", "S3_ACCESS_KEY_ID": "studio", "S3_SECRET_ACCESS_KEY": "change-me"},
            "S3_SECRET_ACCESS_KEY",
        ),
        (REAL | {"S3_BUCKET": "b", "S3_ACCESS_KEY_ID": "studio"}, "S3_SECRET_ACCESS_KEY is missing"),
        (REAL | {"S3_BUCKET": "b", "S3_SECRET_ACCESS_KEY": "a-real-secret"}, "S3_ACCESS_KEY_ID is missing"),
        (REAL | {"SMTP_HOST": "mail", "SMTP_USERNAME": "studio"}, "SMTP_PASSWORD"),
        (REAL | {"SMTP_HOST": "mail", "SMTP_USERNAME": "studio", "SMTP_PASSWORD": "xxxx"}, "SMTP_PASSWORD"),
        (REAL | {"REDIS_URL": "redis://r:6379/0", "DEV_SIGN_IN": "true"}, "DEV_SIGN_IN"),
        ({"S3_ENDPOINT_URL": "http://minio:9000"}, "S3_BUCKET is not"),
        ({"SMTP_USERNAME": "studio", "SMTP_PASSWORD": "real-password"}, "SMTP_HOST is not"),
        ({"PUBLIC_URL": "localhost:8501"}, "PUBLIC_URL"),
        ({"DATABASE_URL": "mysql://u:p4ssword-real@h/db", **REAL}, "DATABASE_URL must be a PostgreSQL URL"),
        ({"WORKER_QUEUES": " , "}, "WORKER_QUEUES"),
    ],
)
def test_unusable_settings_are_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], named: str
) -> None:
    settings = settings_from(env, monkeypatch, tmp_path)
    assert any(named in problem for problem in settings.problems()), settings.problems()
    with pytest.raises(ConfigError, match="cannot start"):
        bootstrap.build_services(settings)


def test_every_problem_is_listed_at_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = {"DATABASE_URL": "postgresql://studio:change-me@db/studio", "SMTP_HOST": "m", "SMTP_USERNAME": "u"}
    with pytest.raises(ConfigError) as raised:
        settings_from(env, monkeypatch, tmp_path).validated()
    message = str(raised.value)
    for name in ("SECRET_KEY", "DATABASE_URL", "SMTP_PASSWORD"):
        assert name in message


def test_secrets_do_not_appear_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = REAL | {"DATABASE_URL": "postgresql://studio:hunter2-hunter2@db/studio", "S3_BUCKET": "b"}
    env |= {"S3_ACCESS_KEY_ID": "id", "S3_SECRET_ACCESS_KEY": "s3-secret-value"}
    shown = repr(settings_from(env, monkeypatch, tmp_path))
    for secret in (TEST_SECRET, "hunter2-hunter2", "s3-secret-value"):
        assert secret not in shown


def test_an_embedded_placeholder_secret_key_is_replaced_by_a_random_one(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, secret_key="change-me")
    assert settings.problems() == []
    assert bootstrap.secret_key(settings) != "change-me"


@pytest.mark.parametrize(
    "value", [None, "", "  ", "change-me", "CHANGEME", "replace-me-please", "xxx", "<secret>"]
)
def test_placeholders(value: str | None) -> None:
    assert is_placeholder(value)


@pytest.mark.parametrize("value", ["k3J9-qq81_Zt", "sk_live_51Habc", "correct horse battery staple"])
def test_real_values_are_not_placeholders(value: str) -> None:
    assert not is_placeholder(value)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("JOB_CONCURRENCY", "lots", "JOB_CONCURRENCY: Input should be a valid integer"),
        ("JOB_CONCURRENCY", "0", "JOB_CONCURRENCY: Input should be greater than or equal to 1"),
        ("SMTP_PORT", "99999", "SMTP_PORT: Input should be less than or equal to 65535"),
        ("LOG_LEVEL", "chatty", "LOG_LEVEL: Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'"),
        ("SMTP_SECURITY", "tls-please", "SMTP_SECURITY: Input should be 'starttls', 'ssl' or 'none'"),
        ("DEV_SIGN_IN", "sometimes", "DEV_SIGN_IN: Input should be a valid boolean"),
    ],
)
def test_unreadable_values_are_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str, says: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        load()
    assert says in str(raised.value)
    assert value not in str(raised.value).replace(says, "")  # the rejected value is not echoed


def test_log_level_is_case_insensitive(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert settings_from({"LOG_LEVEL": " debug "}, monkeypatch, tmp_path).log_level == "DEBUG"


def test_a_fal_key_selects_fal_and_nothing_else(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = settings_from({"FAL_KEY": "0a1b2c3d:4e5f6a7b8c9d"}, monkeypatch, tmp_path)
    assert settings.provider_mode == "fal"
    assert settings.embedded
    assert settings.problems() == []


def test_a_placeholder_fal_key_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = settings_from({"FAL_KEY": "your-fal-key"}, monkeypatch, tmp_path)
    assert settings.provider_mode == "demo"
    assert any("FAL_KEY" in problem for problem in settings.problems())


def test_demo_seconds_fixes_how_long_a_demo_image_takes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from studio.adapters.demo import DemoProvider
    from studio.bootstrap import provider_factory

    fixed = provider_factory(settings_from({"DEMO_SECONDS": "4"}, monkeypatch, tmp_path))("demo")
    assert isinstance(fixed, DemoProvider)
    assert (fixed.min_seconds, fixed.max_seconds) == (4.0, 4.0)
    monkeypatch.delenv("DEMO_SECONDS")
    varying = provider_factory(settings_from({}, monkeypatch, tmp_path))("demo")
    assert isinstance(varying, DemoProvider)
    assert (varying.min_seconds, varying.max_seconds) == (1.0, 3.0)


def test_stripe_needs_its_webhook_secret_and_a_price(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    alone = settings_from({"STRIPE_SECRET_KEY": "sk_test_51abcdefghijklmnop"}, monkeypatch, tmp_path)
    assert alone.payments_mode == "stripe"
    found = " ".join(alone.problems())
    assert "STRIPE_WEBHOOK_SECRET" in found
    assert "STRIPE_PRICE_PRO" in found
    complete = settings_from(
        {
            "STRIPE_SECRET_KEY": "sk_test_51abcdefghijklmnop",
            "STRIPE_WEBHOOK_SECRET": "whsec_0123456789abcdef",
            "STRIPE_PRICE_PRO": " price_pro ",
        },
        monkeypatch,
        tmp_path,
    )
    assert complete.problems() == []
    assert complete.stripe_prices == {"pro": "price_pro"}
    assert complete.describe()["payments"] == "stripe"


def test_a_placeholder_stripe_key_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = settings_from({"STRIPE_SECRET_KEY": "sk_live_change-me"}, monkeypatch, tmp_path)
    assert settings.payments_mode == "off"
    assert any("STRIPE_SECRET_KEY is a placeholder" in problem for problem in settings.problems())
