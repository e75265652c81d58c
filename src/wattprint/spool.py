"""The on-disk spool: what a sink could not take, kept until it can.

Layout, under ``<home>/spool/``::

    <sink name>/<run id>.<writer stamp>.<chunk>.jsonl          waiting to be delivered
    <sink name>/<run id>.<writer stamp>.<chunk>.jsonl.claim-<unix s>-<pid>-<token>
                                                               being delivered by one process
    <sink name>/<name>.jsonl.unreadable                        could not be parsed; kept for a human
    <sink name>/.<name>.jsonl.tmp-<pid>-<token>                being written (or left by a crash)

Each file is JSON Lines of wire objects (:mod:`wattprint.wire`) of ONE run, its first line the
run's ``RunInfo``, so a file is a complete batch for :meth:`Sink.export`.

Why it is safe with many processes and crashes:

- A file is written to a dot-temp name, fsynced, then renamed into place: a process killed
  mid-write leaves only a temp file, which readers skip and :meth:`Spool.cleanup` removes once it
  is older than ``stale_temp_s``.
- A deliverer *claims* a file by renaming it to a claim name. ``rename`` succeeds for exactly one
  process, so two deliverers never export one file twice. The claim's time is in its name (set by
  the same atomic rename), so a claim left by a crashed deliverer is reclaimed once older than
  ``stale_claim_s`` without trusting any mtime. On success the claim is deleted; on failure it is
  renamed back. A redelivery after a crash is harmless: sinks are idempotent per batch.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

from ._lazy_re import lazy_re
from ._log import get_logger
from ._struct import dataclass, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Iterable, Iterator, Sequence

    from .config import Config
    from .records import RunInfo
    from .sinks import Sink
    from .wire import Item

__all__ = ["DeliveryReport", "Spool", "SpoolFile", "spool_dir"]

log = get_logger("wattprint.spool")

_SUFFIX = ".jsonl"
_CLAIM = lazy_re(r"^(?P<name>.+\.jsonl)\.claim-(?P<at>\d+)-\d+-[0-9a-f]+$")
_TEMP = lazy_re(r"^\..+\.tmp-\d+-[0-9a-f]+$")
_UNREADABLE = ".unreadable"
_UNSAFE = lazy_re(r"[^A-Za-z0-9_.-]")


def spool_dir(config: Config) -> Path:
    """``<home>/spool``: beside the local store, in the directory ``home`` names."""
    from .config import default_home

    return (config.home or default_home(config.environ)) / "spool"


def _safe(name: str) -> str:
    # Sink names and run ids become path parts: nothing that could climb out or hide a file.
    cleaned = _UNSAFE.sub("_", name).lstrip(".")
    return cleaned or "_"


@dataclass(frozen=True, slots=True)
class SpoolFile:
    """One spooled chunk as listed by :meth:`Spool.pending`."""

    sink: str
    run_id: str
    path: Path
    size_bytes: int
    modified_s: float  # Unix s
    items: int  # wire objects in the file, RunInfo included
    state: str  # "pending" | "claimed" (a deliverer has it now) | "unreadable"

    def to_dict(self) -> dict[str, object]:
        return {"sink": self.sink, "run_id": self.run_id, "path": str(self.path),
                "size_bytes": self.size_bytes, "modified_s": self.modified_s,
                "items": self.items, "state": self.state}


@dataclass(slots=True)
class DeliveryReport:
    """What :meth:`Spool.deliver` did. ``ok`` is false when anything is left to deliver."""

    delivered: list[Path] = field(default_factory=list)  # original names, now deleted
    failed: list[tuple[Path, str]] = field(default_factory=list)  # put back, with why
    unreadable: list[tuple[Path, str]] = field(default_factory=list)  # moved aside, with why
    items: int = 0  # wire objects exported

    @property
    def ok(self) -> bool:
        return not self.failed and not self.unreadable

    def to_dict(self) -> dict[str, object]:
        return {"delivered": [str(p) for p in self.delivered],
                "failed": [{"path": str(p), "error": e} for p, e in self.failed],
                "unreadable": [{"path": str(p), "error": e} for p, e in self.unreadable],
                "items": self.items}


class Claim:
    """A spool file this process has claimed; :meth:`done` or :meth:`release` it."""

    def __init__(self, original: Path, claimed: Path) -> None:
        self.original = original
        self.path = claimed

    @property
    def sink(self) -> str:
        return self.original.parent.name

    def items(self) -> list[Item]:
        """The file's items; raises ``ValueError`` when a line is not a wire object."""
        import json

        from .wire import from_wire

        out: list[Item] = []
        with self.path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    out.append(from_wire(json.loads(line)))
                except (ValueError, KeyError, TypeError) as exc:
                    raise ValueError(f"line {number}: {exc}") from None
        return out

    def done(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass  # reclaimed by another deliverer after our claim went stale: it is theirs now

    def release(self) -> None:
        try:
            os.rename(self.path, self.original)
        except FileNotFoundError:
            pass

    def set_aside(self) -> Path:
        aside = self.original.with_name(self.original.name + _UNREADABLE)
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            pass
        return aside


class Spool:
    """A spool directory. ``clock`` is wall time (Unix s), injectable for the claim timeout."""

    def __init__(self, root: Path, *, stale_claim_s: float = 600.0, stale_temp_s: float = 3600.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.root = Path(root)
        self.stale_claim_s = stale_claim_s
        self.stale_temp_s = stale_temp_s
        self._clock = clock
        # Chunks from this writer sort after earlier writers' and in the order written; the
        # random tail keeps two writers started in the same nanosecond apart, and the counter
        # is itertools.count because the worker and a submitting thread may both spool at once.
        self._stamp = f"{time.time_ns():020d}{os.urandom(2).hex()}"
        self._chunks = itertools.count(1)

    def __repr__(self) -> str:
        return f"Spool({str(self.root)!r})"

    # -- writing --------------------------------------------------------------------------
    def write(self, sink_name: str, info: RunInfo, items: Iterable[Item]) -> Path:
        """Spool ``items`` of ``info``'s run for ``sink_name``; returns the file. Raises OSError.

        Heartbeats and repeated RunInfos are left out: the file starts with ``info`` and a late
        heartbeat says nothing true about liveness.
        """
        import json

        from .records import Heartbeat, RunInfo
        from .wire import to_wire

        folder = self.root / _safe(sink_name)
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"{_safe(info.run_id)}.{self._stamp}.{next(self._chunks):06d}{_SUFFIX}"
        temp = folder / f".{final.name}.tmp-{os.getpid()}-{os.urandom(4).hex()}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(to_wire(info), sort_keys=True) + "\n")
                for item in items:
                    if isinstance(item, (Heartbeat, RunInfo)):
                        continue
                    fh.write(json.dumps(to_wire(item), sort_keys=True) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.rename(temp, final)
        except BaseException:
            _unlink_quietly(temp)
            raise
        _fsync_dir(folder)
        return final

    # -- reading --------------------------------------------------------------------------
    def sink_names(self) -> list[str]:
        """Sinks that have a folder in the spool."""
        try:
            return sorted(p.name for p in self.root.iterdir() if p.is_dir())
        except FileNotFoundError:
            return []

    def pending(self, names: Sequence[str] | None = None) -> list[SpoolFile]:
        """Every spooled file not yet delivered (temp files excluded), oldest first per sink."""
        out = []
        for sink in self._names(names):
            for path in self._listing(sink):
                name = path.name
                if _TEMP.match(name):
                    continue
                claim = _CLAIM.match(name)
                if claim:
                    state, base = "claimed", claim["name"]
                elif name.endswith(_SUFFIX + _UNREADABLE):
                    state, base = "unreadable", name[: -len(_UNREADABLE)]
                elif name.endswith(_SUFFIX) and not name.startswith("."):
                    state, base = "pending", name
                else:
                    continue
                try:
                    stat = path.stat()
                    items = _count_lines(path)
                except FileNotFoundError:
                    continue  # delivered while we looked
                out.append(SpoolFile(sink=sink, run_id=base.rsplit(".", 3)[0], path=path,
                                     size_bytes=stat.st_size, modified_s=stat.st_mtime,
                                     items=items, state=state))
        return out

    # -- delivering -----------------------------------------------------------------------
    def claims(self, sink_name: str, *, run_id: str | None = None) -> Iterator[Claim]:
        """Claim this sink's files one at a time, oldest first (stale claims included).

        Files another process claims first are skipped. The caller must ``done()`` or
        ``release()`` each claim before asking for the next.
        """
        folder = self.root / _safe(sink_name)
        for path in self._listing(sink_name):
            name = path.name
            claim = _CLAIM.match(name)
            if claim:
                if self._clock() - int(claim["at"]) < self.stale_claim_s:
                    continue  # someone is delivering it now
                original = folder / claim["name"]
            elif name.endswith(_SUFFIX) and not name.startswith("."):
                original = path
            else:
                continue
            if run_id is not None and not original.name.startswith(_safe(run_id) + "."):
                continue
            target = folder / (f"{original.name}.claim-{int(self._clock())}-{os.getpid()}-"
                               f"{os.urandom(4).hex()}")
            try:
                os.rename(path, target)
            except FileNotFoundError:
                continue  # another deliverer won this one
            yield Claim(original, target)

    def deliver(self, make_sink: Callable[[str], Sink], names: Sequence[str] | None = None,
                *, max_files: int | None = None) -> DeliveryReport:
        """Export every pending file (of ``names``, default all) as one batch to its sink.

        ``make_sink(name)`` builds the sink once per name; sinks it built are closed at the end.
        A file is deleted once its sink accepted it and put back when the sink failed; a file
        that cannot be parsed is renamed ``*.unreadable`` and reported, never deleted.
        """
        report = DeliveryReport()
        budget = max_files if max_files is not None else -1
        for name in self._names(names):
            if budget == 0:
                break
            waiting = self._waiting(name)
            if not waiting:
                continue
            try:
                sink = make_sink(name)
            except Exception as exc:  # unknown or broken sink here: leave its files alone
                why = f"sink {name!r} could not be created: {exc}"
                report.failed.extend((path, why) for path in waiting)
                continue
            try:
                for claim in self.claims(name):
                    budget -= 1
                    if deliver_claim(claim, sink, report) == "failed":
                        break  # the sink is failing: its other files would fail the same way
                    if budget == 0:
                        break
            finally:
                try:
                    sink.close()
                except Exception as exc:
                    log.warning("closing sink %s after spool delivery failed: %r", name, exc)
        return report

    def cleanup(self) -> list[Path]:
        """Remove temp files older than ``stale_temp_s`` (left by killed writers)."""
        removed = []
        now = self._clock()
        for sink in self.sink_names():
            for path in self._listing(sink):
                if not _TEMP.match(path.name):
                    continue
                try:
                    if now - path.stat().st_mtime >= self.stale_temp_s:
                        path.unlink()
                        removed.append(path)
                except FileNotFoundError:
                    continue
        return removed

    def _waiting(self, sink_name: str) -> list[Path]:
        return [p for p in self._listing(sink_name)
                if _CLAIM.match(p.name) or (p.name.endswith(_SUFFIX) and not p.name.startswith("."))]

    def _names(self, names: Sequence[str] | None) -> list[str]:
        return self.sink_names() if names is None else [_safe(n) for n in names]

    def _listing(self, sink_name: str) -> list[Path]:
        try:
            # Sorted by name = by run, then writer stamp, then chunk: the order written.
            return sorted((self.root / _safe(sink_name)).iterdir(), key=_order)
        except (FileNotFoundError, NotADirectoryError):
            return []


def deliver_claim(claim: Claim, sink: Sink, report: DeliveryReport) -> str:
    """Export one claimed file to ``sink``; account for it in ``report``.

    Returns ``"delivered"``, ``"failed"`` (put back) or ``"unreadable"`` (moved aside).
    """
    try:
        items = claim.items()
    except (OSError, ValueError) as exc:
        aside = claim.set_aside()
        report.unreadable.append((aside, f"{exc}; it was moved aside, not deleted"))
        return "unreadable"
    try:
        sink.export(items)
    except Exception as exc:
        claim.release()
        report.failed.append((claim.original, f"{type(exc).__name__}: {exc}"))
        return "failed"
    claim.done()
    report.delivered.append(claim.original)
    report.items += len(items)
    return "delivered"


def _order(path: Path) -> str:
    claim = _CLAIM.match(path.name)
    return claim["name"] if claim else path.name.lstrip(".")


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 16), b""))


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _fsync_dir(folder: Path) -> None:
    # The rename is durable only once the directory entry is; not possible on every platform.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
