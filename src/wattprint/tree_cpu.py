"""CPU seconds of a process tree, each process counted once, from per-process counters.

Linux keeps two CPU counters per process: its own time (user + system, all its threads, exited
ones included) and ``children_*``, the totals of the children it has reaped (waited for): each
reaped child's own time plus what that child had itself reaped. When a process exits and is
reaped it vanishes, and its whole subtree's time reappears, at once, in its reaper's
``children_*``. Adding only the root's ``children_*`` therefore loses a grandchild's time while
its parent (a middle process) lives, and counts it twice once the middle process is reaped.

This module counts, at each tick::

    own + children_* of every live process of the tree     (reaped descendants folded in)
  + the last reading of each vanished process whose time is not yet in a live reaper's
    children_*                                               ("pending", or "frozen" for good)
  - the same sum at the first tick

Processes are keyed by pid and creation time: pids get reused.

A vanished process is pending on the parent it had when last seen. A parent that lives on is
the one that reaped it (a child is re-parented only when its parent dies), so the pending
reading is released (dropped from the sum) when that parent's ``children_*`` grows by at least
as much. The tree is read parents first, so the growth shows at the tick the child vanished or
the next one; a reading not released by then is frozen: its reaper never folded it in (it
ignores SIGCHLD, so the kernel reaped the child without adding its time). A process whose parent
vanished at the same tick rides with that parent (its reaper's growth then covers both when the
parent had reaped it). A process that left the tree alive (re-parented to init or to a
subreaper outside the tree) keeps its last reading frozen: from then on it is not ours. What
is lost is only a vanished process's time since its last reading: less than one tick.

Children that lived less than one tick are never seen; their time arrives, once, with their
reaper's ``children_*``. The total is kept monotonic: a reading that would go down (two reads
of one tick straddling an exit) is held until the true total catches up.
"""

from __future__ import annotations

from ._struct import dataclass

TYPE_CHECKING = False
if TYPE_CHECKING:
    import psutil

__all__ = ["TreeCpuLedger", "TreeSample"]

# A process: its pid and its creation time (pids are reused).
_Key = tuple[int, float]
# Ticks a vanished process waits for its reaper's children_* to grow: the tick it vanished and
# the next (the tree is read parents first, so the reap shows in one of the two).
_RELEASE_WINDOW_TICKS = 2


@dataclass(frozen=True, slots=True)
class TreeSample:
    """One tick of a process tree."""

    cpu_s: float  # CPU seconds of the tree since the first tick (monotonic)
    rss_bytes: int  # resident memory of its live processes now
    pids: frozenset[int]  # its live processes now
    root_alive: bool
    unreadable: int = 0  # processes listed but not readable (permission denied)


class _Seen:
    __slots__ = ("own_s", "children_s", "parent", "proc")

    def __init__(self, own_s: float, children_s: float, parent: _Key | None,
                 proc: psutil.Process) -> None:
        self.own_s = own_s
        self.children_s = children_s
        self.parent = parent
        self.proc = proc


class _Vanished:
    """Readings (own + children_*) of vanished processes, waiting on one reaper."""

    __slots__ = ("amounts_s", "ticks")

    def __init__(self, amount_s: float) -> None:
        self.amounts_s = [amount_s]
        self.ticks = 0


class TreeCpuLedger:
    """Reads a process tree each tick (``read()``) and keeps its cumulative CPU time right."""

    def __init__(self, root: psutil.Process) -> None:
        self._root = root
        self._seen: dict[_Key, _Seen] = {}
        self._pending: dict[_Key, list[_Vanished]] = {}
        self._frozen_s = 0.0
        self._base_s: float | None = None
        self._reported_s = 0.0
        # The most a reading fell below the total already reported (held by the monotonic rule).
        # It stays 0 when every process is counted once; tests watch it.
        self.max_shortfall_s = 0.0

    def read(self) -> TreeSample:
        import psutil

        listed = self._listed()
        keys = {proc.pid: (proc.pid, proc.create_time()) for proc in listed}
        listed_keys = set(keys.values())
        live: dict[_Key, _Seen] = {}
        rss = unreadable = 0
        for index, proc in enumerate(listed):
            key = keys[proc.pid]
            before = self._seen.get(key)
            try:
                times = proc.cpu_times()
                if index == 0:
                    parent = None
                elif before is not None and before.parent in listed_keys:
                    parent = before.parent  # a parent that is still there is still the parent
                else:  # new, or re-parented when its parent went: ask (costs a read)
                    parent = keys.get(proc.ppid())
                try:
                    rss += proc.memory_info().rss
                except psutil.Error:
                    pass  # a zombie holds no memory
            except psutil.NoSuchProcess:
                continue  # exited since the listing: it vanishes at this tick
            except psutil.Error:
                unreadable += 1
                if before is not None:  # keep its last reading; it is still in the tree
                    live[key] = before
                continue
            live[key] = _Seen(times.user + times.system,
                              times.children_user + times.children_system, parent, proc)
        self._settle(live)
        raw = sum(s.own_s + s.children_s for s in live.values()) + self._frozen_s + sum(
            sum(v.amounts_s) for entries in self._pending.values() for v in entries)
        if self._base_s is None:
            self._base_s = raw
        since_start = raw - self._base_s
        self.max_shortfall_s = max(self.max_shortfall_s, self._reported_s - since_start)
        self._reported_s = max(self._reported_s, since_start)
        root_alive = bool(listed) and keys[listed[0].pid] in live
        return TreeSample(self._reported_s, rss, frozenset(k[0] for k in live), root_alive,
                          unreadable)

    def _listed(self) -> list[psutil.Process]:
        """The root then its descendants, every parent before its children (psutil's order)."""
        import psutil

        try:
            return [self._root, *self._root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _settle(self, live: dict[_Key, _Seen]) -> None:
        vanished = [key for key in self._seen if key not in live]  # parents first
        entries: dict[_Key, _Vanished] = {}
        for key in vanished:
            seen = self._seen[key]
            amount = seen.own_s + seen.children_s
            parent = seen.parent
            if parent is not None and parent in live:
                # A parent that lives on is the one that reaped it.
                entries[key] = entry = _Vanished(amount)
                self._pending.setdefault(parent, []).append(entry)
            elif parent is not None and parent in entries and not _left_tree(seen.proc):
                # Its parent vanished at this tick too: whoever reaps the parent may hold both.
                entry = entries[parent]
                entry.amounts_s.append(amount)
                entries[key] = entry
            else:  # the root, or a process that left the tree alive: nobody of ours reaps it
                self._frozen_s += amount
        for key in vanished:
            # What waited on a vanished reaper now waits, with it, on the reaper's reaper.
            waiting = self._pending.pop(key, [])
            entry_or_none = entries.get(key)
            for old in waiting:
                if entry_or_none is None:
                    self._frozen_s += sum(old.amounts_s)
                else:
                    entry_or_none.amounts_s.extend(old.amounts_s)
            self._seen.pop(key)
        for reaper, waiting in list(self._pending.items()):
            before = self._seen.get(reaper)
            budget = live[reaper].children_s - before.children_s if before is not None else 0.0
            kept = []
            for entry in waiting:
                budget = _release(entry, budget)
                entry.ticks += 1
                if not entry.amounts_s:
                    continue
                if entry.ticks >= _RELEASE_WINDOW_TICKS:
                    self._frozen_s += sum(entry.amounts_s)  # never folded in: counted as read
                else:
                    kept.append(entry)
            if kept:
                self._pending[reaper] = kept
            else:
                del self._pending[reaper]
        self._seen = live



def _left_tree(proc: psutil.Process) -> bool:
    """Whether a process missing from the tree still exists (re-parented outside the tree)."""
    # is_running() also checks the creation time, so a reused pid is not mistaken for it.
    return proc.is_running()


def _release(entry: _Vanished, budget_s: float) -> float:
    """Drops from ``entry`` the readings its reaper's ``children_*`` growth covers; returns the
    growth left for the next entry."""
    kept = []
    for amount in entry.amounts_s:
        if amount <= budget_s + 1e-9:
            budget_s -= amount
        else:
            kept.append(amount)
    entry.amounts_s = kept
    return budget_s
