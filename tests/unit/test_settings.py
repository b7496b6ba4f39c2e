"""Settings: embedded defaults, PASSERELLE_* overrides, secrets kept secret, one-line errors."""

from __future__ import annotations

import pytest

from bots.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    for name in list(os.environ):
        if name.startswith("PASSERELLE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env file


def test_defaults_come_from_the_toml_file() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///data/passerelle.db"
    assert settings.web.port == 8080
    assert settings.playground_on() is True
    assert settings.resolved_database_url().endswith("/data/passerelle.db")


def test_environment_overrides_with_nested_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PASSERELLE_DATABASE_URL", "postgresql://u@127.0.0.1:5432/test")
    monkeypatch.setenv("PASSERELLE_WEB__PORT", "9001")
    monkeypatch.setenv("PASSERELLE_TELEGRAM__TOKEN", "123:abc-secret")
    settings = load_settings()
    assert settings.web.port == 9001
    assert settings.resolved_database_url() == "postgresql://u@127.0.0.1:5432/test"
    assert settings.platforms_configured() == ["telegram"]
    assert settings.playground_on() is False
    assert "abc-secret" not in repr(settings) and "abc-secret" not in str(settings.model_dump())
    assert settings.telegram.token is not None
    assert settings.telegram.token.get_secret_value() == "123:abc-secret"


def test_dotenv_file_is_read(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / ".env").write_text("PASSERELLE_WEB__PORT=8111\n")
    assert load_settings().web.port == 8111


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("PASSERELLE_WEB__PORT", "eighty", "PASSERELLE_WEB__PORT"),
        ("PASSERELLE_WEB__PORT", "70000", "PASSERELLE_WEB__PORT"),
        ("PASSERELLE_LOG_LEVEL", "LOUD", "PASSERELLE_LOG_LEVEL"),
        ("PASSERELLE_DELIVERY__BATCH_SIZE", "0", "PASSERELLE_DELIVERY__BATCH_SIZE"),
    ],
)
def test_a_wrong_value_names_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    message = str(error.value)
    assert expected in message and "\n" not in message


def test_a_bad_secret_is_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PASSERELLE_TELEGRAM", "not-a-table-secret-value")
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert "not-a-table-secret-value" not in str(error.value)


def test_a_secret_written_in_the_toml_file_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bots.settings import _secrets_in_defaults

    defaults = tmp_path / "passerelle.toml"
    defaults.write_text('[web]\nport = 8080\n[telegram]\ntoken = "123:abc"\n')
    assert _secrets_in_defaults(defaults) == ["telegram.token"]
    assert _secrets_in_defaults() == []  # the shipped defaults hold none


def test_discord_is_threaded_for_the_core_exactly_when_its_mentors_channel_is_set() -> None:
    """The core routes by the same rule the Discord channel delivers by (`threads`)."""
    from bots.app import threaded_platforms

    plain = load_settings(discord={"token": "t"})
    channel = load_settings(discord={"token": "t", "mentor_channel_id": 42})
    assert threaded_platforms(plain) == frozenset({"slack"})
    assert threaded_platforms(channel) == frozenset({"slack", "discord"})
