"""This machine: the roots of its pseudo-filesystems and its stable identity.

Neutral ground shared by sensors, intensity, the store and the tracker, so that no stage imports
another sideways (``intensity/`` never imports ``sensors/``).
"""

from __future__ import annotations

from ._struct import dataclass, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path


def _root(text: str) -> Path:
    from pathlib import Path  # about 7 ms to import: paid when a tracker is built, not imported

    return Path(text)

__all__ = ["HostPaths", "host_id", "hostname"]


@dataclass(frozen=True, slots=True)
class HostPaths:
    """Roots of the pseudo-filesystems sensors read; tests point them at a ``tmp_path`` tree."""

    sys: Path = field(default_factory=lambda: _root("/sys"))
    proc: Path = field(default_factory=lambda: _root("/proc"))
    etc: Path = field(default_factory=lambda: _root("/etc"))

    @property
    def powercap(self) -> Path:
        return self.sys / "class" / "powercap"

    @property
    def cgroup(self) -> Path:
        return self.sys / "fs" / "cgroup"


def hostname() -> str:
    import os

    if hasattr(os, "uname"):  # what gethostname(2) returns, without importing socket (~5 ms)
        return os.uname().nodename
    import socket

    return socket.gethostname()


def host_id(paths: HostPaths | None = None) -> str:
    """A stable, non-reversible id for this machine: 16 hex digits.

    Derived from ``/etc/machine-id`` (systemd's per-install id; the man page asks that it not be
    exposed as is, so it is hashed with an application-specific prefix), else from the host
    name. The same machine gives the same id across runs, users and reboots.
    """
    paths = paths or HostPaths()
    seed = ""
    for candidate in (paths.etc / "machine-id", paths.proc / "sys" / "kernel" / "random" / "boot_id"):
        try:
            seed = candidate.read_text().strip()
        except OSError:
            continue
        if seed:
            if candidate.name == "boot_id":
                seed = ""  # changes at every boot: not an identity
            break
    return _sha256_hex(f"wattprint-host:{seed or hostname()}")[:16]


def _sha256_hex(text: str) -> str:
    # The built-in SHA-256 module, not hashlib: hashlib loads OpenSSL (about 4 MB of RSS).
    import importlib

    for name in ("_sha2", "_sha256"):  # Python >= 3.12, then <= 3.11
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        return str(module.sha256(text.encode()).hexdigest())
    from hashlib import sha256  # a build without the built-in modules

    return sha256(text.encode()).hexdigest()
