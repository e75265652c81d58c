"""The server's settings from flags, environment variables and a TOML file: precedence
flag > environment > file > default, and every bad key or value refused naming key and file."""

from __future__ import annotations

import os

import pytest

from wattprint.cli import build_parser, main
from wattprint.cli.server import settings_from_args
from wattprint.errors import ConfigError
from wattprint.server.serving import settings_environ
from wattprint.server.settings import Settings, load_pepper
from wattprint.server.settings_file import FILE_KEYS, read_config_file


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def from_cli(*argv: str) -> Settings:
    return settings_from_args(build_parser().parse_args(["server", *argv]))


def test_defaults_without_file_or_variables(tmp_path):
    settings = Settings.from_environ({"WATTPRINT_HOME": str(tmp_path)})
    assert (settings.db_url, settings.host, settings.port) == (
        f"sqlite:///{tmp_path / 'server.db'}", "127.0.0.1", 8000)
    assert (settings.access_log, settings.shutdown_timeout_s, settings.pepper_file) == (
        "json", 30.0, None)
    assert (settings.max_body_bytes, settings.max_items) == (10_000_000, 10_000)


def test_every_file_key_sets_its_setting(tmp_path):
    (tmp_path / "secrets").mkdir()
    write(tmp_path / "secrets" / "pepper", "from-the-file\n")
    config = write(tmp_path / "server.toml", """
db = "sqlite:////srv/wp.db"
host = "0.0.0.0"
port = 9001
workers = 3
max_body_bytes = 2_000_000
max_items = 500
access_log = "text"
shutdown_timeout_s = 12.5
pepper_file = "secrets/pepper"
""")
    settings = Settings.from_environ({"WATTPRINT_HOME": str(tmp_path)}, config_path=str(config))
    assert (settings.db_url, settings.host, settings.port) == ("sqlite:////srv/wp.db", "0.0.0.0",
                                                               9001)
    assert (settings.max_body_bytes, settings.max_items, settings.workers) == (2_000_000, 500, 3)
    assert (settings.access_log, settings.shutdown_timeout_s) == ("text", 12.5)
    # a relative pepper_file is relative to the config file's folder, not the working directory
    assert settings.pepper_file == str(tmp_path / "secrets" / "pepper")
    assert load_pepper(settings) == b"from-the-file"
    assert len(FILE_KEYS) == 9  # the table in docs/server-operations.md lists these nine


def test_flag_beats_environment_beats_file_beats_default(tmp_path, monkeypatch):
    config = write(tmp_path / "server.toml", 'port = 9001\nhost = "10.0.0.1"\n'
                                            'access_log = "text"\nshutdown_timeout_s = 5\n'
                                            'db = "sqlite:////from/file.db"\n')
    monkeypatch.setenv("WATTPRINT_SERVER_CONFIG", str(config))
    # the file alone
    settings = from_cli()
    assert (settings.port, settings.host, settings.access_log, settings.shutdown_timeout_s,
            settings.db_url) == (9001, "10.0.0.1", "text", 5.0, "sqlite:////from/file.db")
    assert settings.max_items == 10_000  # left to the default
    # the environment over the file
    monkeypatch.setenv("WATTPRINT_SERVER_PORT", "9002")
    monkeypatch.setenv("WATTPRINT_SERVER_ACCESS_LOG", "off")
    monkeypatch.setenv("WATTPRINT_SERVER_DB", "sqlite:////from/env.db")
    settings = from_cli()
    assert (settings.port, settings.host, settings.access_log, settings.db_url) == (
        9002, "10.0.0.1", "off", "sqlite:////from/env.db")
    # flags over both
    settings = from_cli("--port", "9003", "--access-log", "json", "--shutdown-timeout", "7",
                        "--db", "sqlite:////from/flag.db", "--host", "::1", "--workers", "2")
    assert (settings.port, settings.host, settings.access_log, settings.shutdown_timeout_s,
            settings.db_url, settings.workers) == (9003, "::1", "json", 7.0,
                                                   "sqlite:////from/flag.db", 2)


def test_config_flag_beats_the_config_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("WATTPRINT_SERVER_CONFIG", str(write(tmp_path / "a.toml", "port = 1111")))
    assert from_cli("--config", str(write(tmp_path / "b.toml", "port = 2222"))).port == 2222
    assert from_cli().port == 1111


@pytest.mark.parametrize("text, message", [
    ("prot = 8000", "unknown key 'prot': the keys are access_log, db, host, max_body_bytes"),
    ('port = "8000"', "port = '8000' is not allowed: write a whole number from 1 to 65535"),
    ("port = 70000", "port = 70000 is not allowed: write a whole number from 1 to 65535"),
    ("max_items = 0", "max_items = 0 is not allowed: write a positive whole number"),
    ("max_items = true", "max_items = True is not allowed"),
    ('access_log = "xml"', "access_log = 'xml' is not allowed: write \"off\", \"json\" or"),
    ("shutdown_timeout_s = -1", "shutdown_timeout_s = -1 is not allowed: write a positive"),
    ('db = ""', "db = '' is not allowed: write a database URL string"),
    ('pepper = "s3cret"', "key 'pepper' is not allowed in a config file"),
    ("[server]\nport = 1", "unknown key 'server'"),
    ("port = ", "not valid TOML"),
])
def test_bad_keys_and_values_are_refused_naming_the_key_and_the_file(tmp_path, text, message):
    config = write(tmp_path / "server.toml", text)
    with pytest.raises(ConfigError) as caught:
        read_config_file(str(config))
    assert str(config) in str(caught.value) and message in str(caught.value)
    assert "s3cret" not in str(caught.value)  # an inline pepper is refused, never echoed


def test_a_missing_config_file_is_an_error_not_the_defaults(tmp_path):
    with pytest.raises(ConfigError, match="nowhere.toml does not exist: fix --config or "
                                          "WATTPRINT_SERVER_CONFIG"):
        Settings.from_environ({"WATTPRINT_SERVER_CONFIG": str(tmp_path / "nowhere.toml")})


@pytest.mark.parametrize("name, value, message", [
    ("WATTPRINT_SERVER_PORT", "http", "WATTPRINT_SERVER_PORT='http' is not a positive whole"),
    ("WATTPRINT_SERVER_PORT", "65536", "WATTPRINT_SERVER_PORT=65536 is not a port"),
    ("WATTPRINT_SERVER_ACCESS_LOG", "yes", "WATTPRINT_SERVER_ACCESS_LOG='yes': choose off, json"),
    ("WATTPRINT_SERVER_SHUTDOWN_TIMEOUT_S", "soon", "'soon' is not a positive number of seconds"),
    ("WATTPRINT_SERVER_SHUTDOWN_TIMEOUT_S", "nan", "'nan' is not a positive number of seconds"),
])
def test_bad_environment_values_are_refused_naming_the_variable(tmp_path, name, value, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        Settings.from_environ({"WATTPRINT_HOME": str(tmp_path), name: value})


def test_the_pepper_variable_beats_the_pepper_file_and_a_bad_file_says_what_to_do(tmp_path):
    pepper = write(tmp_path / "pepper", "in-file")
    settings = Settings.from_environ({"WATTPRINT_SERVER_PEPPER_FILE": str(pepper),
                                      "WATTPRINT_SERVER_PEPPER": "in-env"})
    assert load_pepper(settings) == b"in-env"
    with pytest.raises(ConfigError, match="cannot be read .No such file or directory.: fix"):
        load_pepper(Settings(db_url="sqlite://", pepper_file=str(tmp_path / "absent")))
    with pytest.raises(ConfigError, match="is empty: write the pepper into it"):
        load_pepper(Settings(db_url="sqlite://", pepper_file=str(write(tmp_path / "e", " \n"))))


def test_the_cli_reports_a_bad_file_with_exit_2(tmp_path, capsys):
    config = write(tmp_path / "server.toml", "colour = 'blue'")
    assert main(["server", "migrate", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{config}: unknown key 'colour'" in err and "the keys are" in err


def test_migrate_uses_the_database_the_config_file_names(tmp_path, capsys):
    database = tmp_path / "from-config.db"
    config = write(tmp_path / "server.toml", f'db = "sqlite:///{database}"')
    assert main(["server", "migrate", "--config", str(config)]) == 0
    assert database.is_file() and not os.path.exists(tmp_path / "wattprint-home" / "server.db")


def test_the_settings_every_server_process_reads_back_are_the_resolved_ones(tmp_path):
    # serve hands flags, file and environment to its worker processes as variables
    pepper = write(tmp_path / "pepper", "p")
    config = write(tmp_path / "server.toml", f'pepper_file = "{pepper}"\nmax_items = 7\n'
                                            'workers = 4\nshutdown_timeout_s = 2.5\n')
    resolved = from_cli("--config", str(config), "--port", "9100", "--access-log", "text",
                        "--db", f"sqlite:///{tmp_path / 'x.db'}")
    assert Settings.from_environ(settings_environ(resolved)) == resolved
    assert Settings.from_environ(settings_environ(Settings(db_url="sqlite://", pepper="q",
                                                           home=str(tmp_path)))) == Settings(
        db_url="sqlite://", pepper="q", home=str(tmp_path))
