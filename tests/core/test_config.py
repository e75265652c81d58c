from __future__ import annotations

from pathlib import Path

import pytest

from wattprint.config import Config, load_config
from wattprint.errors import ConfigError


def test_defaults(tmp_path):
    config = load_config(environ={}, cwd=tmp_path)
    assert config.interval_s == 5.0
    assert config.scope == "machine"
    assert config.pue is None  # resolved per run: the cloud's published PUE, else 1.0
    assert config.provider == "bundled" and config.cloud_metadata and not config.ip_geolocation
    assert config.sinks == ("sqlite",)
    assert config.source_of("pue") == "default"


def test_precedence_arguments_env_project_file_user_file(tmp_path):
    user = tmp_path / "user.toml"
    user.write_text('project = "from-user"\nexperiment = "user-exp"\npue = 1.1\ninterval_s = 9\n')
    (tmp_path / "wattprint.toml").write_text('project = "from-project"\npue = 1.2\n')
    environ = {"WATTPRINT_CONFIG": str(user), "WATTPRINT_PUE": "1.3"}
    config = load_config({"interval_s": 2}, environ=environ, cwd=tmp_path)
    assert config.interval_s == 2.0 and config.source_of("interval_s") == "argument"
    assert config.pue == 1.3 and config.source_of("pue") == "environment WATTPRINT_PUE"
    assert config.project == "from-project"
    assert config.source_of("project") == str(tmp_path / "wattprint.toml")
    assert config.experiment == "user-exp" and config.source_of("experiment") == str(user)


def test_pyproject_tool_table_is_read_when_no_wattprint_toml(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.wattprint]\ncountry = "FR"\nsinks = ["sqlite", "csv"]\n'
    )
    config = load_config(environ={}, cwd=tmp_path)
    assert config.country == "FR"
    assert config.sinks == ("sqlite", "csv")
    assert "[tool.wattprint]" in config.source_of("country")


def test_bad_value_names_key_value_source_and_what_is_allowed(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(environ={"WATTPRINT_PUE": "0.5"}, cwd=tmp_path)
    message = str(err.value)
    assert "WATTPRINT_PUE" in message and "pue" in message and "'0.5'" in message
    assert "1.0 to 3.0" in message
    assert err.value.key == "pue"


def test_interval_bounds(tmp_path):
    assert load_config({"interval_s": 0.1}, environ={}, cwd=tmp_path).interval_s == 0.1
    with pytest.raises(ConfigError, match="0.1 to 3600"):
        load_config({"interval_s": 0.05}, environ={}, cwd=tmp_path)


def test_unknown_key_in_file_suggests_the_close_one(tmp_path):
    (tmp_path / "wattprint.toml").write_text('projet = "x"\n')
    with pytest.raises(ConfigError) as err:
        load_config(environ={}, cwd=tmp_path)
    assert "projet" in str(err.value) and "Did you mean project" in str(err.value)
    assert str(tmp_path / "wattprint.toml") in str(err.value)


def test_unknown_environment_variable_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="WATTPRINT_INTERVAL.*Did you mean interval_s"):
        load_config(environ={"WATTPRINT_INTERVAL": "1"}, cwd=tmp_path)


def test_bad_choice_and_bad_sink(tmp_path):
    with pytest.raises(ConfigError, match="'machine' or 'process'"):
        load_config({"scope": "container"}, environ={}, cwd=tmp_path)
    with pytest.raises(ConfigError, match="sqlite, csv, jsonl"):
        load_config({"sinks": "sqlite,postgres"}, environ={}, cwd=tmp_path)


def test_boolean_parsing_and_rejection(tmp_path):
    assert load_config(environ={"WATTPRINT_RAPL_PSYS": "yes"}, cwd=tmp_path).rapl_psys is True
    with pytest.raises(ConfigError, match="true or false"):
        load_config(environ={"WATTPRINT_RAPL_PSYS": "maybe"}, cwd=tmp_path)


def test_invalid_toml_says_which_file(tmp_path):
    (tmp_path / "wattprint.toml").write_text("project = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(environ={}, cwd=tmp_path)


def test_store_path_follows_home_and_xdg(tmp_path):
    explicit = load_config({"home": str(tmp_path / "h")}, environ={}, cwd=tmp_path)
    assert explicit.store_path == tmp_path / "h" / "wattprint.db"
    xdg = load_config(environ={"XDG_DATA_HOME": str(tmp_path / "x"), "HOME": "/nonexistent"},
                      cwd=tmp_path)
    assert xdg.store_path == tmp_path / "x" / "wattprint" / "wattprint.db"
    env_home = load_config(environ={"WATTPRINT_HOME": str(tmp_path / "e")}, cwd=tmp_path)
    assert env_home.store_path == tmp_path / "e" / "wattprint.db"


def test_config_is_immutable_and_overrides_copy():
    base = Config()
    changed = base.with_overrides({"project": "p", "country": None})
    assert base.project == "default" and changed.project == "p"
    assert changed.country is None
    assert isinstance(changed.csv_path, Path)
