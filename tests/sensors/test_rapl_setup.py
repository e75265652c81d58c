"""`wattprint setup-rapl`: the plan, its explanation, and running it through a fake runner."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from fakes.powercap import FakePowercap
from wattprint.errors import ConfigError, SensorUnavailable
from wattprint.sensors import HostPaths, ProbeContext, rapl, rapl_setup
from wattprint.sensors.rapl_setup import SetupFailed, SetupPlan, apply, plan, render

RULE_LINE = (
    'ACTION=="add", SUBSYSTEM=="powercap", KERNEL=="intel-rapl:*|intel-rapl-mmio:*", '
    'RUN+="/bin/chgrp powercap /sys%p/energy_uj /sys%p/max_energy_range_uj", '
    'RUN+="/bin/chmod g+r /sys%p/energy_uj /sys%p/max_energy_range_uj"'
)


class FakeRunner:
    """Records what would have run; fails the command whose first word is ``fail_on``."""

    def __init__(self, fail_on: str | None = None, act: FakePowercap | None = None) -> None:
        self.calls: list[tuple[list[str], str | None]] = []
        self.fail_on = fail_on
        self.act = act

    def __call__(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        assert kwargs == {
            "input": kwargs["input"],
            "capture_output": True,
            "text": True,
            "check": False,
        }
        self.calls.append((argv, kwargs["input"]))
        command = argv[1:] if argv[0] == "sudo" else argv
        if command[0] == self.fail_on:
            return subprocess.CompletedProcess(argv, 1, "", f"{command[0]}: permission denied\n")
        if self.act is not None:
            self._act(command)
        return subprocess.CompletedProcess(argv, 0, "", "")

    def _act(self, command: list[str]) -> None:
        # Do to the fake tree what chgrp/chmod would do to sysfs (our own gid stands in for the group).
        if command[0] == "chgrp":
            for path in command[2:]:
                os.chown(path, -1, os.getgid())
        elif command[0] == "chmod":
            for path in command[2:]:
                os.chmod(path, os.stat(path).st_mode | 0o040)


@pytest.fixture
def host(fake_powercap: FakePowercap) -> FakePowercap:
    fake_powercap.package(0, subzones=("dram",), energy_uj=1_000_000, root_only=True)
    fake_powercap.package(0, family="intel-rapl-mmio", subzones=(), root_only=True)
    return fake_powercap


def test_udev_rule_text_is_pinned() -> None:
    rule = rapl_setup.udev_rule("powercap")

    assert rule.splitlines()[-1] == RULE_LINE
    assert all(line.startswith("#") for line in rule.splitlines()[:-1])
    assert rule.endswith("\n")


def test_plan_lists_group_user_rule_and_existing_counters(host: FakePowercap) -> None:
    setup = plan(host.paths, env={"SUDO_USER": "alice"})

    zones = host.powercap
    files = tuple(
        str(zones / zone / name)
        for zone in ("intel-rapl-mmio:0", "intel-rapl:0", "intel-rapl:0:0")
        for name in ("energy_uj", "max_energy_range_uj")
    )
    assert [step.argv for step in setup.steps] == [
        ("groupadd", "--system", "--force", "powercap"),
        ("usermod", "--append", "--groups", "powercap", "alice"),
        ("tee", "/etc/udev/rules.d/70-wattprint-rapl.rules"),
        ("udevadm", "control", "--reload-rules"),
        ("chgrp", "powercap", *files),
        ("chmod", "g+r", *files),
    ]
    assert setup.steps[2].stdin == setup.rule == rapl_setup.udev_rule("powercap")
    assert setup.user == "alice"
    assert setup.rule_path == Path("/etc/udev/rules.d/70-wattprint-rapl.rules")
    assert setup.notes == ()


def test_plan_uses_another_group_everywhere(host: FakePowercap) -> None:
    setup = plan(host.paths, "energy", user="bob")

    assert setup.steps[0].argv[-1] == "energy"
    assert setup.steps[1].argv == ("usermod", "--append", "--groups", "energy", "bob")
    assert 'RUN+="/bin/chgrp energy ' in setup.rule
    assert setup.steps[4].argv[:2] == ("chgrp", "energy")


def test_plan_without_sudo_user_falls_back_to_the_current_user(
    host: FakePowercap, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "carol")

    assert plan(host.paths, env={}).user == "carol"


def test_plan_for_root_adds_nobody_and_says_so(host: FakePowercap) -> None:
    setup = plan(host.paths, user="root")

    assert setup.user is None
    assert not any(step.argv[0] == "usermod" for step in setup.steps)
    assert setup.notes == (
        (
            "nobody is added to the group (running as root): add your user with "
            "`sudo usermod --append --groups powercap NAME`"
        ),
    )


def test_plan_without_zones_installs_the_rule_only(tmp_path: Path) -> None:
    setup = plan(HostPaths(sys=tmp_path / "sys"), user="alice")

    assert [step.argv[0] for step in setup.steps] == ["groupadd", "usermod", "tee", "udevadm"]
    assert setup.counter_files == ()
    assert "the rule applies when the driver loads" in setup.notes[0]
    assert "udevadm trigger" not in render(setup)


@pytest.mark.parametrize("group", ["", 'pow"er', "power cap", "-rf", "x" * 33])
def test_plan_rejects_group_names_that_would_break_the_rule(tmp_path: Path, group: str) -> None:
    with pytest.raises(ConfigError) as caught:
        plan(HostPaths(sys=tmp_path), group, user="alice")

    assert caught.value.key == "group"


@pytest.mark.parametrize("user", ["", "-G", "a b"])
def test_plan_rejects_user_names_that_would_be_options(tmp_path: Path, user: str) -> None:
    with pytest.raises(ConfigError):
        plan(HostPaths(sys=tmp_path), user=user)


def test_render_explains_why_and_shows_every_command(host: FakePowercap) -> None:
    setup = plan(host.paths, user="alice")

    text = render(setup)

    assert "CVE-2020-8694" in text and "Platypus" in text
    assert "root only" in text and "trusted" in text
    assert "sudo groupadd --system --force powercap" in text
    assert "sudo usermod --append --groups powercap alice" in text
    assert "sudo tee /etc/udev/rules.d/70-wattprint-rapl.rules <<'EOF'" in text
    assert f"       {RULE_LINE}" in text
    assert f"sudo chmod g+r {host.powercap}/intel-rapl-mmio:0/energy_uj" in text
    assert "udevadm trigger --action=add\n--subsystem-match=powercap" in text
    assert "newgrp powercap" in text


def test_apply_runs_every_step_with_sudo_in_order(host: FakePowercap) -> None:
    setup = plan(host.paths, user="alice")
    runner = FakeRunner()

    ran = apply(setup, run=runner, sudo=True)

    assert [argv for argv, _ in runner.calls] == [["sudo", *step.argv] for step in setup.steps]
    assert runner.calls[2][1] == setup.rule  # the rule goes to tee's stdin
    assert ran[0] == "sudo groupadd --system --force powercap"
    assert ran[2] == "sudo tee /etc/udev/rules.d/70-wattprint-rapl.rules"
    assert len(ran) == len(setup.steps)


def test_apply_as_root_needs_no_sudo(host: FakePowercap) -> None:
    runner = FakeRunner()

    ran = apply(plan(host.paths, user="alice"), run=runner, sudo=False)

    assert ran[0] == "groupadd --system --force powercap"
    assert all(argv[0] != "sudo" for argv, _ in runner.calls)


def test_apply_stops_at_the_first_failure(host: FakePowercap) -> None:
    runner = FakeRunner(fail_on="tee")

    with pytest.raises(SetupFailed) as caught:
        apply(plan(host.paths, user="alice"), run=runner, sudo=True)

    assert len(runner.calls) == 3  # groupadd, usermod, tee; nothing after
    error = caught.value
    assert error.command == "sudo tee /etc/udev/rules.d/70-wattprint-rapl.rules"
    assert error.detail == "exit status 1: tee: permission denied"
    assert error.ran == [
        "sudo groupadd --system --force powercap",
        "sudo usermod --append --groups powercap alice",
    ]
    assert "already done: sudo groupadd" in str(error)


def test_apply_reports_a_missing_sudo(host: FakePowercap) -> None:
    def no_sudo(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        raise FileNotFoundError(2, "No such file or directory", "sudo")

    with pytest.raises(SetupFailed, match="No such file or directory") as caught:
        apply(plan(host.paths, user="alice"), run=no_sudo, sudo=True)

    assert caught.value.ran == []


def test_applied_plan_makes_the_sensor_readable_for_a_group_member(host: FakePowercap) -> None:
    ctx = ProbeContext(paths=host.paths)
    host.user_groups.add(os.getgid())
    with pytest.raises(SensorUnavailable):
        rapl.probe(ctx, opener=host.open_as_user)

    apply(plan(host.paths, user="alice"), run=FakeRunner(act=host), sudo=True)

    sensor = rapl.probe(ctx, opener=host.open_as_user)
    assert {r.device: r.energy_j for r in sensor.read()} == {
        "rapl:package-0": 1.0,
        "rapl:dram-0": 0.0,
    }
    sensor.close()


def test_setup_plan_is_a_plain_value(host: FakePowercap) -> None:
    setup = plan(host.paths, user="alice")

    assert isinstance(setup, SetupPlan)
    assert plan(host.paths, user="alice") == setup
