"""Where the http sink finds its server, `wattprint login` and `wattprint push`, against a real
local server implementing the ingest CONTRACT."""

from __future__ import annotations

import json
import stat

import pytest
from run_items import login, stored_run

from fakes.ingest_server import GOOD_KEY, FakeIngestServer
from wattprint.cli import main
from wattprint.config import load_config
from wattprint.credentials import Credentials, credentials_path, load_credentials, save_credentials
from wattprint.errors import ConfigError
from wattprint.sinks import http as http_sink
from wattprint.sinks.registry import make_sink


@pytest.fixture
def server():
    with FakeIngestServer() as running:
        yield running


# -- settings ----------------------------------------------------------------------------------
def test_the_sink_takes_url_and_key_from_the_environment_else_from_the_saved_login():
    env = {"WATTPRINT_SERVER_URL": "https://team.example.org/", "WATTPRINT_SERVER_API_KEY": "wp_k"}
    sink = make_sink("http", load_config(environ=env))
    assert sink.server_url == "https://team.example.org"
    assert sink.ingest_url == "https://team.example.org/api/v1/ingest"
    saved_env = {"XDG_CONFIG_HOME": load_config().environ["XDG_CONFIG_HOME"]}
    save_credentials(saved_env, Credentials("https://saved.example.org", "wp_saved"))
    sink = make_sink("http", load_config(environ=saved_env))
    assert (sink.server_url, sink._api_key) == ("https://saved.example.org", "wp_saved")
    # a configured URL that is not the saved one does not borrow the saved key
    other = dict(saved_env, WATTPRINT_SERVER_URL="https://other.example.org")
    with pytest.raises(ConfigError, match="no API key for https://other.example.org.*login"):
        make_sink("http", load_config(environ=other))


def test_the_sink_says_what_to_do_without_a_server_or_without_httpx(monkeypatch):
    with pytest.raises(ConfigError, match="wattprint login URL.*WATTPRINT_SERVER_URL"):
        make_sink("http", load_config(environ={}))
    monkeypatch.setattr(http_sink.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match=r"pip install 'wattprint\[server\]'"):
        make_sink("http", load_config(environ={"WATTPRINT_SERVER_URL": "http://x",
                                               "WATTPRINT_SERVER_API_KEY": "wp_k"}))


def test_a_bad_server_url_is_refused_with_what_is_allowed():
    with pytest.raises(ConfigError, match="server_url.*http:// or https://"):
        load_config(environ={"WATTPRINT_SERVER_URL": "team.example.org"})


def test_http_is_a_sink_name_and_the_key_is_masked_in_describe():
    from wattprint.config import describe

    config = load_config(environ={"WATTPRINT_SINKS": "sqlite,http",
                                  "WATTPRINT_SERVER_API_KEY": "wp_secret"})
    assert config.sinks == ("sqlite", "http")
    assert ("server_api_key", "***", "environment WATTPRINT_SERVER_API_KEY") in describe(config)
    assert "wp_secret" not in repr(config)


def test_a_damaged_login_file_is_a_clear_error(tmp_path):
    env = {"XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    credentials_path(env).parent.mkdir(parents=True)
    credentials_path(env).write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="damaged.*wattprint login URL"):
        load_credentials(env)


# -- login ---------------------------------------------------------------------------------------
def test_login_checks_the_key_and_saves_it_for_the_owner_only(server, monkeypatch, capsys):
    code, said = login(monkeypatch, capsys, server.url, GOOD_KEY)
    assert code == 0 and f"logged in to {server.url}" in said
    assert ("as key wp_abcd1234_... of project 'vision' ('acme'); it may send runs and list "
            "runs with `wattprint runs --server`") in said
    assert GOOD_KEY not in said
    path = credentials_path(load_config().environ)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"server_url": server.url, "api_key": GOOD_KEY}
    check = server.requests[-1]
    assert check["path"] == "/api/v1/key"
    assert check["headers"]["authorization"] == f"Bearer {GOOD_KEY}"


def test_login_saves_a_read_only_key_and_says_it_cannot_send_runs(server, monkeypatch, capsys):
    reader = "wp_read5678_" + "r" * 43
    server.keys[reader] = {"read"}
    code, said = login(monkeypatch, capsys, server.url, reader)
    assert code == 0 and "it may list runs with `wattprint runs --server`;" in said
    assert "send runs" not in said
    assert json.loads(credentials_path(load_config().environ).read_text())["api_key"] == reader


def test_login_with_a_wrong_key_saves_nothing_and_says_why(server, monkeypatch, capsys):
    wrong = "wp_zzzz9999_" + "x" * 43
    code, said = login(monkeypatch, capsys, server.url, wrong)
    assert code == 1 and "not saved" in said and "401" in said and wrong not in said
    assert not credentials_path(load_config().environ).exists()
    code, said = login(monkeypatch, capsys, server.url, "hunter2")
    assert code == 2 and "start with wp_" in said
    code, said = login(monkeypatch, capsys, "team.example.org", GOOD_KEY)
    assert code == 2 and "not a server URL" in said


def test_login_to_a_server_that_is_down_saves_nothing(server, monkeypatch, capsys):
    server.down()
    code, said = login(monkeypatch, capsys, server.url, GOOD_KEY)
    assert code == 1 and "cannot reach" in said
    assert not credentials_path(load_config().environ).exists()


# -- push ----------------------------------------------------------------------------------------
def test_push_sends_stored_runs_once_and_the_server_holds_their_numbers(server, monkeypatch,
                                                                        capsys):
    first, second = stored_run(3), stored_run(2)
    assert login(monkeypatch, capsys, server.url, GOOD_KEY)[0] == 0
    assert main(["push", "--all", "--json"]) == 0
    pushed = json.loads(capsys.readouterr().out)
    assert sorted(r["run_id"] for r in pushed["runs"] if r["pushed"]) == sorted(
        [first.run_id, second.run_id])
    for summary in (first, second):
        records = [v for (rid, _), v in server.records.items() if rid == summary.run_id]
        assert len(records) == summary.records
        assert sum(r["energy_j"] for r in records) == pytest.approx(summary.energy_j["total"])
        assert server.summaries[summary.run_id]["emissions_g"] == pytest.approx(
            summary.emissions_g)
        assert server.spans[(summary.run_id, "epoch")]["count"] == 1
    requests = len(server.requests)
    assert main(["push", "--all"]) == 0  # remembered: nothing new to send
    assert "nothing to push" in capsys.readouterr().out
    assert len(server.requests) == requests
    assert main(["push", first.run_id[:8]]) == 0  # a named run goes again, harmlessly
    assert server.requests[-1]["status"] == 200
    assert len([k for k in server.records if k[0] == first.run_id]) == 3


def test_push_to_a_server_that_is_down_fails_and_remembers_nothing(server, monkeypatch, capsys):
    run = stored_run(2)
    assert login(monkeypatch, capsys, server.url, GOOD_KEY)[0] == 0
    server.down()
    assert main(["push", "--all"]) == 1
    assert f"run {run.run_id[:8]} was not pushed: cannot reach" in capsys.readouterr().err
    server.up()
    assert main(["push", "--all"]) == 0
    assert len([k for k in server.records if k[0] == run.run_id]) == 2


def test_push_needs_one_run_or_all(capsys):
    assert main(["push"]) == 2
    assert "give one RUN_ID or --all" in capsys.readouterr().err


# -- doctor --------------------------------------------------------------------------------------
def _doctor(tmp_path, overrides, environ):
    from pathlib import Path

    from fakes.powercap import FakePowercap
    from wattprint.doctor import diagnose, render
    from wattprint.sensors import HostPaths

    if not (tmp_path / "sys").exists():
        FakePowercap(tmp_path / "sys").package(0, energy_uj=5_000_000)
    paths = HostPaths(sys=tmp_path / "sys", proc=Path("/proc"), etc=tmp_path / "etc")
    report = diagnose({"country": "FR", **overrides}, environ=environ, paths=paths, modules={})
    return report, render(report)


def test_doctor_names_the_team_server_and_a_http_sink_that_could_not_send(tmp_path):
    env = {"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "WATTPRINT_HOME": str(tmp_path / "wp")}
    report, _ = _doctor(tmp_path, {"sinks": "sqlite,http"}, env)
    assert any(p.startswith("sink http: no team server is configured") for p in report["problems"])
    save_credentials(env, Credentials("https://team.example.org", "wp_abcd1234_secret"))
    report, text = _doctor(tmp_path, {"sinks": "sqlite,http"}, env)
    assert report["server"] == {"url": "https://team.example.org", "http_sink": True,
                                "key_from": "the saved login"}
    assert not [p for p in report["problems"] if p.startswith("sink http")]
    assert "Team server: https://team.example.org, key from the saved login" in text
    assert "wp_abcd1234_secret" not in text and "wp_abcd1234_secret" not in json.dumps(report, default=str)
    report, text = _doctor(tmp_path, {}, env)  # no http sink: said, and not a problem
    assert "runs do not send to it (add http to sinks)" in text


def test_login_asks_for_the_key_without_echo(server, monkeypatch, capsys):
    prompts = []

    def getpass(prompt):
        prompts.append(prompt)
        return GOOD_KEY

    monkeypatch.setattr("getpass.getpass", getpass)
    assert main(["login", server.url]) == 0
    assert prompts == ["API key (input hidden): "]
    assert GOOD_KEY not in "".join(capsys.readouterr())
    assert load_credentials(load_config().environ) == Credentials(server.url, GOOD_KEY)
