"""Is a ``running`` run still running? One pure rule, shared by the local store and the server.

A run's row says ``running`` until its summary arrives. It is really ``interrupted`` when:

- its tracker is dead on this host: the row's ``tracker_pid`` (the process running the tracker,
  which for ``wattprint run`` is the wrapper, not the measured child) names no live process.
  Rows written before trackers recorded their own pid fall back to ``pid``; or
- its heartbeat is stale, whatever host it came from: the tracker promised one every
  ``heartbeat_every_s`` and none has been seen for :data:`STALE_PERIODS` periods plus
  :data:`GRACE_S` (slack for a slow disk, a busy exporter, clock skew between nodes).

Rows without heartbeat data (older trackers) keep the old rule: dead pid on this host only.
A pid can be reused by an unrelated process; the heartbeat catches what the pid check misses.
"""

from __future__ import annotations

import os

from .._struct import dataclass

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

__all__ = ["GRACE_S", "STALE_PERIODS", "Liveness", "effective_status", "pid_alive", "stale_after_s"]

STALE_PERIODS = 3
GRACE_S = 10.0


@dataclass(frozen=True, slots=True)
class Liveness:
    """What the rule needs from a run row."""

    status: str  # as stored: running | finished | failed
    host_id: str | None = None
    hostname: str | None = None
    tracker_pid: int | None = None
    pid: int | None = None  # the measured process (rows before v3: whichever pid was recorded)
    heartbeat_s: float | None = None  # last seen, wall clock
    heartbeat_every_s: float | None = None


def stale_after_s(every_s: float) -> float:
    """How long after the last heartbeat a run counts as interrupted."""
    return STALE_PERIODS * every_s + GRACE_S


def _on_this_host(row: Liveness, host_id: str | None, hostname: str | None) -> bool:
    if row.host_id and host_id:
        return row.host_id == host_id
    return bool(row.hostname) and row.hostname == hostname


def effective_status(
    row: Liveness,
    *,
    now_s: float,
    host_id: str | None,
    hostname: str | None,
    pid_alive: Callable[[int], bool],
) -> str:
    """``row.status``, except that a ``running`` run whose tracker is gone is ``interrupted``.

    ``host_id``/``hostname`` identify the machine asking (``None`` on a server, which can never
    check pids); ``pid_alive`` is injected so the rule stays pure.
    """
    if row.status != "running":
        return row.status
    if _on_this_host(row, host_id, hostname):
        pid = row.tracker_pid if row.tracker_pid is not None else row.pid
        if isinstance(pid, int) and pid > 0 and not pid_alive(pid):
            return "interrupted"
    if row.heartbeat_s is not None and row.heartbeat_every_s:
        if now_s - row.heartbeat_s > stale_after_s(row.heartbeat_every_s):
            return "interrupted"
    return "running"


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine (signal 0 checks without sending)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True
