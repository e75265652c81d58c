"""``wattprint setup-rapl``: let one trusted group read the RAPL energy counters.

Why it is needed: since Linux 5.10 ``energy_uj`` is readable by root only. That is the kernel's
mitigation for CVE-2020-8694, the "Platypus" attack (Lipp et al., 2020): reading the counters
unprivileged and at a high rate leaks data-dependent power draw, enough to recover secrets
processed by other code on the same CPU. Making a group of trusted users able to read them is the
narrow fix: everyone else stays locked out and wattprint never needs to run as root.

How it persists: sysfs attributes get their default mode back whenever the driver (re)creates the
zones, at every boot, so a udev rule re-applies the grant on each powercap ``add`` event. udev's
``GROUP=``/``MODE=`` keys only act on ``/dev`` nodes and powercap zones have none, hence ``RUN+=``
with chgrp/chmod on the attribute files; ``%p`` expands to the zone's devpath under ``/sys``. The
same rule shape is documented for benchexec (https://github.com/sosy-lab/benchexec/pull/1283).

:func:`plan` decides, :func:`render` explains, :func:`apply` runs (with sudo); importing this
module does nothing.
"""

from __future__ import annotations

import getpass
import os
import shlex
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

from .._lazy_re import lazy_re
from .._struct import dataclass
from ..errors import ConfigError, WattprintError
from . import HostPaths

__all__ = ["RULE_PATH", "SetupFailed", "SetupPlan", "Step", "apply", "plan", "render", "udev_rule"]

RULE_PATH = Path("/etc/udev/rules.d/70-wattprint-rapl.rules")

# Only the counter and its wrap point: on upstream kernels only energy_uj is root-only, but some
# distribution kernels restricted every powercap attribute, max_energy_range_uj included.
_COUNTER_FILES = ("energy_uj", "max_energy_range_uj")
_ZONE_RE = lazy_re(r"^intel-rapl(?:-mmio)?:\d+(?::\d+)?$")
# A group name goes into the rule's text: nothing that could end a quoted udev value.
_GROUP_RE = lazy_re(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}$")

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True, slots=True)
class Step:
    """One privileged command and why it is there. ``stdin`` is fed to it (the rule's text)."""

    why: str
    argv: tuple[str, ...]
    stdin: str | None = None


@dataclass(frozen=True, slots=True)
class SetupPlan:
    group: str
    user: str | None  # who gets added to the group; None when nobody sensible (root, unknown)
    rule_path: Path
    rule: str
    counter_files: tuple[Path, ...]  # existing files that the "now" steps touch
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()


class SetupFailed(WattprintError):
    """A setup step failed; ``ran`` lists the commands that had already succeeded."""

    def __init__(self, command: str, detail: str, ran: list[str]) -> None:
        done = "; ".join(ran) if ran else "nothing"
        super().__init__(f"`{command}` failed: {detail} (already done: {done})")
        self.command = command
        self.detail = detail
        self.ran = ran


def udev_rule(group: str) -> str:
    """The rule file's text: on each RAPL zone's ``add``, give ``group`` read access."""
    files = " ".join(f"/sys%p/{name}" for name in _COUNTER_FILES)
    # /bin/chgrp rather than /usr/bin: it exists both on merged-/usr systems (where /bin links to
    # /usr/bin) and on older split ones, and udev wants an absolute path.
    return (
        "# Written by `wattprint setup-rapl`: lets group "
        f"{group} read the RAPL energy counters.\n"
        "# They are root-only since Linux 5.10 (CVE-2020-8694, 'Platypus'); delete this file to undo.\n"
        'ACTION=="add", SUBSYSTEM=="powercap", KERNEL=="intel-rapl:*|intel-rapl-mmio:*", '
        f'RUN+="/bin/chgrp {group} {files}", RUN+="/bin/chmod g+r {files}"\n'
    )


def plan(
    paths: HostPaths,
    group: str = "powercap",
    *,
    user: str | None = None,
    env: Mapping[str, str] | None = None,
) -> SetupPlan:
    """The steps that grant ``group`` read access, now and at every boot, and add the user to it.

    ``user`` defaults to whoever invoked sudo (``$SUDO_USER``), else the current user; pass
    ``env`` to say where ``SUDO_USER`` comes from (it defaults to this process's environment).
    """
    _check_group(group)
    member = _member(user if user is not None else invoking_user(env))
    files = _counter_files(paths.powercap)
    rule = udev_rule(group)
    steps = [Step("create the group", ("groupadd", "--system", "--force", group))]
    notes = []
    if member is not None:
        steps.append(
            Step(f"add {member} to it", ("usermod", "--append", "--groups", group, member))
        )
    else:
        notes.append(
            "nobody is added to the group (running as root): add your user with "
            f"`sudo usermod --append --groups {group} NAME`"
        )
    steps += [
        Step("install the udev rule (re-applied at every boot)", ("tee", str(RULE_PATH)), rule),
        Step("make udev read it", ("udevadm", "control", "--reload-rules")),
    ]
    if files:
        names = tuple(str(f) for f in files)
        steps += [
            Step("give the group the existing counters now", ("chgrp", group, *names)),
            Step("let the group read them", ("chmod", "g+r", *names)),
        ]
    else:
        notes.append(
            f"no RAPL zones under {paths.powercap} right now: the rule applies when the driver "
            "loads (`sudo modprobe intel_rapl_msr`)"
        )
    return SetupPlan(group, member, RULE_PATH, rule, files, tuple(steps), tuple(notes))


def render(setup: SetupPlan) -> str:
    """Human instructions: what will be done, why, and what to do afterwards."""
    lines = [
        f"wattprint setup-rapl: let group `{setup.group}` read the RAPL energy counters",
        "",
        "Why: since Linux 5.10 the counters (/sys/class/powercap/intel-rapl:*/energy_uj) are",
        "readable by root only, the kernel's answer to CVE-2020-8694 ('Platypus'): unprivileged,",
        "high-rate reads of them leak the data-dependent power of other code on the CPU, enough",
        "to recover secrets. Granting read access to one group of trusted users is the narrow",
        "fix: everyone else stays locked out and wattprint never has to run as root. Only add",
        "users you would trust with that side channel.",
        "",
        "Steps (each runs with sudo):",
    ]
    for number, step in enumerate(setup.steps, start=1):
        lines.append(f"  {number}. {step.why}:")
        command = "sudo " + shlex.join(step.argv)
        if step.stdin is not None:
            lines.append(f"       {command} <<'EOF'")
            lines += [f"       {line}" for line in step.stdin.splitlines()]
            lines.append("       EOF")
        else:
            lines.append(f"       {command}")
    lines += [f"Note: {note}" for note in setup.notes]
    lines.append("")
    if setup.counter_files:
        lines += [
            "Instead of the chgrp/chmod steps, `sudo udevadm trigger --action=add",
            "--subsystem-match=powercap` replays the rule on the zones that exist now.",
        ]
    lines += [
        f"Afterwards: log out and back in (or run `newgrp {setup.group}`) so the new group",
        "membership applies, then `wattprint doctor` should list the rapl sensor.",
        f"To undo: `sudo rm {setup.rule_path}` and reboot.",
    ]
    return "\n".join(lines)


def apply(setup: SetupPlan, run: Runner = subprocess.run, *, sudo: bool | None = None) -> list[str]:
    """Run the steps in order, with sudo unless already root; return the commands run.

    Stops at the first failure with :class:`SetupFailed`, which names the command, its output and
    what had already been done.
    """
    prefix = ("sudo",) if (os.geteuid() != 0 if sudo is None else sudo) else ()
    ran: list[str] = []
    for step in setup.steps:
        argv = [*prefix, *step.argv]
        shown = shlex.join(argv)
        try:
            result = run(argv, input=step.stdin, capture_output=True, text=True, check=False)
        except OSError as exc:  # sudo or the tool itself is missing
            raise SetupFailed(shown, str(exc), ran) from exc
        if result.returncode != 0:
            output = (result.stderr or result.stdout or "").strip() or "no output"
            raise SetupFailed(shown, f"exit status {result.returncode}: {output}", ran)
        ran.append(shown)
    return ran


def invoking_user(env: Mapping[str, str] | None = None) -> str:
    """Who asked: sudo's caller when run through sudo, else the current user."""
    # Under sudo, getpass.getuser() answers "root"; sudo records the caller in SUDO_USER.
    # This CLI-only helper is the one place outside config that needs it.
    source = os.environ if env is None else env
    return source.get("SUDO_USER") or getpass.getuser()


def _member(user: str) -> str | None:
    if user == "root":
        return None  # root reads the counters already; adding it would change nothing
    if not user or user.startswith("-") or any(c.isspace() for c in user):
        raise ConfigError(f"not a user name: {user!r}", key="user")
    return user


def _check_group(group: str) -> None:
    if not _GROUP_RE.match(group):
        raise ConfigError(
            f"not a usable group name: {group!r} (letters, digits, '_', '.', '-'; up to 32)",
            key="group",
        )


def _counter_files(powercap: Path) -> tuple[Path, ...]:
    try:
        entries = sorted(os.listdir(powercap))
    except OSError:
        return ()
    return tuple(
        powercap / entry / name
        for entry in entries
        if _ZONE_RE.match(entry)
        for name in _COUNTER_FILES
        if (powercap / entry / name).is_file()
    )
