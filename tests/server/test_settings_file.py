"""The server's settings from flags, environment variables and a TOML file: precedence
flag > environment > file > default, and every bad key or value refused naming key and file."""

from __future__ import annotations

import os

import pytest

from wattprint.cli import build_parser, main
from wattprint.cli.server import settings_from_args
from wattprint.errors import ConfigError
from wattprint.server.oidc import OidcSettings
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
    # the table in docs/server-operations.md lists these nine and the seven oidc_* keys
    assert len(FILE_KEYS) == 16


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


# --- OpenID sign-in from the file ------------------------------------------------------------

ISSUER = "https://idp.acme.test/realms/acme"
REDIRECT = "https://wattprint.acme.test/api/v1/oidc/callback"


def oidc_config(tmp_path, extra: str = ""):
    (tmp_path / "secrets").mkdir(exist_ok=True)
    write(tmp_path / "secrets" / "oidc", "client-secret-from-file\n")
    return write(tmp_path / "server.toml", f"""
oidc_issuer = "{ISSUER}"
oidc_client_id = "wattprint"
oidc_client_secret_file = "secrets/oidc"
oidc_redirect_url = "{REDIRECT}"
oidc_auto_provision = true
oidc_allowed_domains = ["Acme.test", "@lab.acme.test"]
oidc_default_org = "acme-research"
{extra}""")


def test_every_oidc_key_sets_its_setting(tmp_path):
    config = oidc_config(tmp_path)
    oidc = Settings.from_environ({"WATTPRINT_HOME": str(tmp_path)}, config_path=str(config)).oidc
    assert oidc == OidcSettings(issuer=ISSUER, client_id="wattprint",
                                client_secret="client-secret-from-file", redirect_url=REDIRECT,
                                auto_provision=True, allowed_domains=("acme.test", "lab.acme.test"),
                                default_organisation="acme-research")
    # relative to the config file's folder, like pepper_file
    assert oidc is not None and oidc.client_secret_file == str(tmp_path / "secrets" / "oidc")
    assert "client-secret-from-file" not in repr(oidc)
    plain = write(tmp_path / "plain.toml", "port = 9000")
    assert Settings.from_environ({}, config_path=str(plain)).oidc is None


def test_oidc_variables_beat_the_file_and_the_secret_variable_beats_the_secret_file(tmp_path):
    config = oidc_config(tmp_path)
    oidc = Settings.from_environ({
        "WATTPRINT_SERVER_OIDC_CLIENT_ID": "from-env",
        "WATTPRINT_SERVER_OIDC_AUTO_PROVISION": "false",
        "WATTPRINT_SERVER_OIDC_ALLOWED_DOMAINS": "env.test",
        "WATTPRINT_SERVER_OIDC_CLIENT_SECRET": "secret-from-env",
    }, config_path=str(config)).oidc
    assert oidc is not None
    assert (oidc.client_id, oidc.auto_provision, oidc.allowed_domains) == (
        "from-env", False, ("env.test",))
    assert (oidc.client_secret, oidc.client_secret_file) == ("secret-from-env", None)
    assert (oidc.issuer, oidc.default_organisation) == (ISSUER, "acme-research")  # the file's


@pytest.mark.parametrize("text, message", [
    ('oidc_client_secret = "s3cret"',
     "key 'oidc_client_secret' is not allowed in a config file (it gets copied and committed): "
     'put the secret in a file of its own (mode 0600) and set oidc_client_secret_file = "PATH", '
     "or set WATTPRINT_SERVER_OIDC_CLIENT_SECRET"),
    ('oidc_issuer = "http://idp.acme.test"', "oidc_issuer = 'http://idp.acme.test' is not "
                                             "allowed: write the provider's https:// issuer URL"),
    ("oidc_issuer = 1", "oidc_issuer = 1 is not allowed"),
    ('oidc_redirect_url = "https://wattprint.acme.test/"',
     "write this server's public https:// URL ending in /api/v1/oidc/callback"),
    ('oidc_auto_provision = "yes"', "oidc_auto_provision = 'yes' is not allowed: write true or "
                                    "false"),
    ('oidc_allowed_domains = "acme.test"', "write a list of e-mail domains"),
    ('oidc_allowed_domains = ["a.test,b.test"]', "write a list of e-mail domains"),
    ("oidc_allowed_domains = []", "write a list of e-mail domains"),
    ("oidc_default_org = 3", "write the slug string of the organisation new users join"),
    ('oidc_client_id = ""', "write the client id string registered at the provider"),
    ('oidc_client_secret_file = ""', "oidc_client_secret_file = '' is not allowed"),
    ('oidc_secret = "x"', "unknown key 'oidc_secret'"),
])
def test_bad_oidc_keys_and_values_are_refused_naming_the_key_and_the_file(tmp_path, text,
                                                                          message):
    config = write(tmp_path / "server.toml", text)
    with pytest.raises(ConfigError) as caught:
        read_config_file(str(config))
    assert str(config) in str(caught.value) and message in str(caught.value)
    assert "s3cret" not in str(caught.value)  # an inline secret is refused, never echoed


def test_oidc_settings_that_need_each_other_name_both_the_variable_and_the_key(tmp_path):
    config = write(tmp_path / "server.toml", f'oidc_issuer = "{ISSUER}"\n'
                                            f'oidc_redirect_url = "{REDIRECT}"\n')
    with pytest.raises(ConfigError) as caught:
        Settings.from_environ({}, config_path=str(config))
    assert ("WATTPRINT_SERVER_OIDC_CLIENT_ID (oidc_client_id), "
            "WATTPRINT_SERVER_OIDC_CLIENT_SECRET (oidc_client_secret) is not: set it") in str(
        caught.value)
    no_domains = oidc_config(tmp_path).read_text().replace("oidc_allowed_domains", "# was")
    with pytest.raises(ConfigError, match=r"AUTO_PROVISION \(oidc_auto_provision\) needs .*"
                                          r"\(oidc_allowed_domains"):
        Settings.from_environ({}, config_path=str(write(tmp_path / "b.toml", no_domains)))
    config = oidc_config(tmp_path)
    (tmp_path / "secrets" / "oidc").unlink()
    with pytest.raises(ConfigError, match="CLIENT_SECRET_FILE=.*oidc' cannot be read"):
        Settings.from_environ({}, config_path=str(config))


WORKER_READ_BACK = (
    "import json, os\n"
    "from wattprint.server.settings import Settings\n"
    "oidc = Settings.from_environ(os.environ).oidc\n"
    "print(json.dumps(None if oidc is None else {\n"
    "    'issuer': oidc.issuer, 'client_id': oidc.client_id, 'secret': oidc.client_secret,\n"
    "    'secret_file': oidc.client_secret_file, 'redirect_url': oidc.redirect_url,\n"
    "    'auto': oidc.auto_provision, 'domains': list(oidc.allowed_domains),\n"
    "    'org': oidc.default_organisation}))\n"
)


def worker_oidc(environ: dict[str, str]):
    """What a worker process started with ``environ`` (over this one's) reads back."""
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", WORKER_READ_BACK], env={**os.environ, **environ},
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


def test_every_server_process_reads_back_the_resolved_oidc_settings(tmp_path, monkeypatch):
    # serve hands the resolved settings to uvicorn's worker processes as variables and drops
    # the config file: the OIDC half must survive that, the secret file as a path, not a value
    config = oidc_config(tmp_path)
    monkeypatch.delenv("WATTPRINT_SERVER_CONFIG", raising=False)
    resolved = from_cli("--config", str(config), "--db", f"sqlite:///{tmp_path / 'x.db'}")
    environ = settings_environ(resolved)
    assert Settings.from_environ(environ) == resolved
    assert "client-secret-from-file" not in environ.values()
    assert worker_oidc(environ) == {
        "issuer": ISSUER, "client_id": "wattprint", "secret": "client-secret-from-file",
        "secret_file": str(tmp_path / "secrets" / "oidc"), "redirect_url": REDIRECT,
        "auto": True, "domains": ["acme.test", "lab.acme.test"], "org": "acme-research"}
    # a secret given as a variable goes on as one; optional settings left unset stay unset
    monkeypatch.setenv("WATTPRINT_SERVER_OIDC_CLIENT_SECRET", "from-env")
    plain = write(tmp_path / "plain.toml", f'oidc_issuer = "{ISSUER}"\n'
                                           'oidc_client_id = "wattprint"\n'
                                           f'oidc_redirect_url = "{REDIRECT}"\n')
    resolved = from_cli("--config", str(plain))
    assert Settings.from_environ(settings_environ(resolved)) == resolved
    assert worker_oidc(settings_environ(resolved)) == {
        "issuer": ISSUER, "client_id": "wattprint", "secret": "from-env", "secret_file": None,
        "redirect_url": REDIRECT, "auto": False, "domains": [], "org": None}


def test_oidc_resolved_off_stays_off_in_every_process_whatever_they_inherit(tmp_path):
    off = Settings(db_url="sqlite://", pepper="q", home=str(tmp_path))
    inherited = {"WATTPRINT_SERVER_OIDC_ISSUER": ISSUER}
    assert Settings.from_environ({**inherited, **settings_environ(off)}).oidc is None
    assert worker_oidc({**inherited, **settings_environ(off)}) is None


def test_the_operations_guide_lists_every_file_key_beside_its_variable():
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[2] / "docs" / "server-operations.md").read_text()
    rows = {line for line in guide.splitlines() if line.startswith("| `")}
    for key, (variable, _, _) in FILE_KEYS.items():
        assert any(row.startswith(f"| `{key}` | `{variable}` |") for row in rows), key
