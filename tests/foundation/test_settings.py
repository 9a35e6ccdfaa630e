"""Settings: environment over TOML over defaults; bad values named; secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import FIELDS, Secret, SettingsError, load_settings


def test_defaults_without_any_input() -> None:
    settings = load_settings({})
    assert settings.http.host == "127.0.0.1"
    assert settings.http.port == 8080
    assert settings.database.url is None
    assert settings.pgdata == Path(".dialer/pgdata")
    assert settings.servers == ()


def test_wrapup_limit_and_default_disposition(tmp_path: Path) -> None:
    assert (load_settings({}).wrapup_limit_s, load_settings({}).default_disposition) == (0, None)
    config = tmp_path / "dialer.toml"
    config.write_text('wrapup_limit_s = 90\ndefault_disposition = "no_sale"\n')
    settings = load_settings({"DIALER_WRAPUP_LIMIT": "120"}, config)
    assert (settings.wrapup_limit_s, settings.default_disposition) == (120, "no_sale")


def test_pacer_lease(tmp_path: Path) -> None:
    assert load_settings({}).pacer_lease_s == 4.0
    config = tmp_path / "dialer.toml"
    config.write_text("pacer_lease_s = 3\n")
    assert load_settings({}, config).pacer_lease_s == 3.0
    assert load_settings({"DIALER_PACER_LEASE": "12.5"}, config).pacer_lease_s == 12.5
    config.write_text("pacer_lease_s = 2\n")
    with pytest.raises(SettingsError, match=r"pacer_lease_s: expected at least 3 s"):
        load_settings({}, config)


def test_environment_wins_over_the_file(tmp_path: Path) -> None:
    config = tmp_path / "dialer.toml"
    config.write_text('[http]\nport = 9000\nhost = "0.0.0.0"\n[log]\nformat = "json"\n')
    settings = load_settings({"DIALER_HTTP_PORT": "9100"}, config)
    assert settings.http.port == 9100
    assert settings.http.host == "0.0.0.0"
    assert settings.log.format == "json"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DIALER_HTTP_PORT": "abc"}, "DIALER_HTTP_PORT"),
        ({"DIALER_HTTP_PORT": "70000"}, "DIALER_HTTP_PORT"),
        ({"DIALER_LOG_FORMAT": "xml"}, "DIALER_LOG_FORMAT"),
        ({"DIALER_DATABASE_URL": "mysql://x"}, "DIALER_DATABASE_URL"),
        ({"DIALER_TICK_INTERVAL": "-1"}, "DIALER_TICK_INTERVAL"),
        ({"DIALER_DATABASE_AUTO_MIGRATE": "perhaps"}, "DIALER_DATABASE_AUTO_MIGRATE"),
        ({"DIALER_AGENT_EVENTS_BUFFER": "10"}, "DIALER_AGENT_EVENTS_BUFFER"),
        ({"DIALER_AGENT_EVENTS_CLIENT_QUEUE": "x"}, "DIALER_AGENT_EVENTS_CLIENT_QUEUE"),
        ({"DIALER_WRAPUP_LIMIT": "-5"}, "DIALER_WRAPUP_LIMIT"),
        ({"DIALER_DEFAULT_DISPOSITION": "Not Interested"}, "DIALER_DEFAULT_DISPOSITION"),
        ({"DIALER_PACER_LEASE": "2.5"}, "DIALER_PACER_LEASE"),  # under 3 renewal intervals
        ({"DIALER_PACER_LEASE": "301"}, "DIALER_PACER_LEASE"),
        ({"DIALER_PACER_LEASE": "inf"}, "DIALER_PACER_LEASE"),
        ({"DIALER_PACER_LEASE": "nan"}, "DIALER_PACER_LEASE"),
    ],
)
def test_a_bad_setting_is_named(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    assert caught.value.name == named
    assert named in str(caught.value)


def test_agent_event_settings_from_the_file_and_the_environment(tmp_path: Path) -> None:
    assert load_settings({}).agent_events.buffer == 10_000
    config = tmp_path / "dialer.toml"
    config.write_text("[agent_events]\nbuffer = 500\nclient_queue = 50\n")
    settings = load_settings({"DIALER_AGENT_EVENTS_CLIENT_QUEUE": "20"}, config)
    assert (settings.agent_events.buffer, settings.agent_events.client_queue) == (500, 20)


def test_servers_from_toml_and_their_secrets_stay_hidden(tmp_path: Path) -> None:
    config = tmp_path / "dialer.toml"
    config.write_text(
        '[[servers]]\nname = "pbx1"\nami_secret = "s3cret-ami"\nari_password = "s3cret-ari"\n'
        'driver = "ari"\nchannels = 120\nqueue_wrapup = "sales=5, sales-es=10"\n'
    )
    settings = load_settings({"DIALER_DATABASE_URL": "postgresql://u:dbpass@h/db"}, config)
    (server,) = settings.servers
    assert server.driver == "ari"
    assert server.channels == 120
    assert server.queue_wrapup == (("sales", 5), ("sales-es", 10))
    assert server.ami_secret.reveal() == "s3cret-ami"
    shown = repr(settings) + str(settings)
    for secret in ("s3cret-ami", "s3cret-ari", "dbpass"):
        assert secret not in shown


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ('[[servers]]\nhost = "x"\n', "servers[0].name"),
        ('[[servers]]\nname = "a"\ndriver = "sip"\n', "servers[0].driver"),
        ('[[servers]]\nname = "a"\nbogus = 1\n', "servers[0].bogus"),
        ('[[servers]]\nname = "a"\nqueue_wrapup = "sales:5"\n', "servers[0].queue_wrapup"),
        ('[[servers]]\nname = "a"\n[[servers]]\nname = "a"\n', "servers"),
        ("[http\n", "--config"),
    ],
)
def test_bad_server_tables_are_named(tmp_path: Path, toml: str, named: str) -> None:
    config = tmp_path / "dialer.toml"
    config.write_text(toml)
    with pytest.raises(SettingsError, match=named.replace("[", r"\[").replace("]", r"\]")):
        load_settings({}, config)


def test_missing_config_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings({}, tmp_path / "absent.toml")


def test_secret_is_masked_everywhere() -> None:
    secret = Secret("hunter2")
    assert "hunter2" not in repr(secret)
    assert "hunter2" not in str(secret)
    assert "hunter2" not in f"{secret}"
    assert secret.reveal() == "hunter2"


def test_every_field_has_documentation_and_a_prefixed_name() -> None:
    for spec in FIELDS:
        assert spec.env.startswith("DIALER_")
        assert spec.doc.endswith(".") or spec.doc.endswith(")")
