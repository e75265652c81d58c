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


# --- renamed keys ----------------------------------------------------------------------------


def test_ram_w_per_gib_is_read_from_file_env_and_arguments(tmp_path):
    (tmp_path / "wattprint.toml").write_text("ram_w_per_gib = 0.4\n")
    assert load_config(environ={}, cwd=tmp_path).ram_w_per_gib == 0.4
    config = load_config(environ={"WATTPRINT_RAM_W_PER_GIB": "0.45"}, cwd=tmp_path)
    assert config.ram_w_per_gib == 0.45
    assert config.source_of("ram_w_per_gib") == "environment WATTPRINT_RAM_W_PER_GIB"
    assert load_config({"ram_w_per_gib": 0.5}, environ={}, cwd=tmp_path).ram_w_per_gib == 0.5


def test_the_old_ram_w_per_gb_in_a_file_still_works_with_a_warning_naming_the_new_key(tmp_path):
    (tmp_path / "wattprint.toml").write_text("ram_w_per_gb = 0.4\n")
    with pytest.warns(FutureWarning, match="ram_w_per_gb is deprecated; use ram_w_per_gib"):
        config = load_config(environ={}, cwd=tmp_path)
    assert config.ram_w_per_gib == 0.4
    # doctor lists the value under its new name, and says where the old name still is
    source = config.source_of("ram_w_per_gib")
    assert source == f"{tmp_path / 'wattprint.toml'} (deprecated name ram_w_per_gb)"


def test_the_old_env_variable_still_works_with_a_warning_naming_the_new_variable(tmp_path):
    with pytest.warns(FutureWarning) as caught:
        config = load_config(environ={"WATTPRINT_RAM_W_PER_GB": "0.45"}, cwd=tmp_path)
    assert config.ram_w_per_gib == 0.45
    assert [str(w.message) for w in caught] == [
        "wattprint: environment WATTPRINT_RAM_W_PER_GB: WATTPRINT_RAM_W_PER_GB is deprecated; "
        "use WATTPRINT_RAM_W_PER_GIB (the same value: it was always applied per GiB)"]
    # precedence is unchanged: the environment (old name) beats a file (new name)
    (tmp_path / "wattprint.toml").write_text("ram_w_per_gib = 0.4\n")
    with pytest.warns(FutureWarning):
        assert load_config(environ={"WATTPRINT_RAM_W_PER_GB": "0.45"},
                           cwd=tmp_path).ram_w_per_gib == 0.45


def test_the_old_name_is_checked_like_the_new_one(tmp_path):
    with pytest.warns(FutureWarning), pytest.raises(ConfigError, match="0.01 to 10") as err:
        load_config(environ={"WATTPRINT_RAM_W_PER_GB": "50"}, cwd=tmp_path)
    assert err.value.source == "environment WATTPRINT_RAM_W_PER_GB"


def test_both_names_in_one_layer_is_an_error(tmp_path):
    environ = {"WATTPRINT_RAM_W_PER_GB": "0.4", "WATTPRINT_RAM_W_PER_GIB": "0.5"}
    with pytest.raises(ConfigError, match="keep only WATTPRINT_RAM_W_PER_GIB"):
        load_config(environ=environ, cwd=tmp_path)
    (tmp_path / "wattprint.toml").write_text("ram_w_per_gb = 0.4\nram_w_per_gib = 0.5\n")
    with pytest.raises(ConfigError, match="both ram_w_per_gb and ram_w_per_gib"):
        load_config(environ={}, cwd=tmp_path)


def test_the_old_name_as_an_argument_warns_too(tmp_path):
    with pytest.warns(FutureWarning, match="argument: ram_w_per_gb is deprecated"):
        config = load_config({"ram_w_per_gb": 0.3}, environ={}, cwd=tmp_path)
    assert config.ram_w_per_gib == 0.3 and config.source_of("ram_w_per_gib").startswith("argument")
