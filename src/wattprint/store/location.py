"""Which file a process writes and which files a reader merges.

SQLite's locks are only as good as the file system's: on NFS, Lustre, GPFS, CIFS/SMB, BeeGFS,
CephFS or GlusterFS, byte-range locks may be missing, local to one client or slow to propagate,
and WAL's shared-memory index does not work across machines at all. Two nodes of a job writing
one file there can corrupt it. So on such a file system each node writes its own file,
``wattprint.<host_id>.db``, in rollback-journal mode (processes of one node still share it
safely), and readers merge every store file in the directory.

The file system is found from ``<proc>/self/mountinfo``: the mount whose mount point is the
longest prefix of the store directory's real path.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .._lazy_re import lazy_re
from .._struct import dataclass
from ..host import HostPaths

__all__ = ["NETWORK_FS_TYPES", "Placement", "filesystem_of", "placement", "store_files"]

# mountinfo fstype values (the FUSE clients report "fuse.<name>"). Beyond the parallel and
# network file systems of HPC sites: shared-disk cluster file systems (no shared memory across
# nodes for WAL), sshfs, AFS, and 9p/drvfs (WSL's Windows drives, where SQLite's locks are known
# to misbehave). A per-node file costs nothing on a single machine, so when in doubt, list it.
NETWORK_FS_TYPES = frozenset({
    "nfs", "nfs4", "lustre", "gpfs", "cifs", "smb3", "smbfs", "beegfs", "ceph",
    "fuse.ceph", "fuse.ceph-fuse", "glusterfs", "fuse.glusterfs", "gfs2", "ocfs2", "panfs",
    "wekafs", "afs", "fuse.sshfs", "9p", "drvfs", "fuse.juicefs", "fuse.s3fs",
})

_NODE_FILE = lazy_re(r"^wattprint\.[0-9A-Za-z_-]+\.db$")
MAIN_NAME = "wattprint.db"


@dataclass(frozen=True, slots=True)
class Placement:
    """Where this process writes, and why."""

    write_path: Path  # the file this node writes
    fstype: str | None  # file system of the store directory (None: unknown, e.g. not Linux)
    mount_point: str | None
    network: bool

    @property
    def journal_mode(self) -> str:
        # WAL needs shared memory between every process using the file: same machine only.
        return "delete" if self.network else "wal"

    def to_dict(self) -> dict[str, object]:
        return {"write_path": str(self.write_path), "fstype": self.fstype,
                "mount_point": self.mount_point, "network": self.network}


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo octal
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def filesystem_of(directory: Path, paths: HostPaths | None = None) -> tuple[str, str] | None:
    """(fstype, mount point) of the file system holding ``directory``, or ``None`` if unknown."""
    paths = paths or HostPaths()
    try:
        text = (paths.proc / "self" / "mountinfo").read_text(errors="replace")
    except OSError:
        return None
    target = os.path.realpath(directory)  # works for a directory not created yet
    best: tuple[str, str] | None = None
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        fields = left.split()
        if not sep or len(fields) < 5 or not right.split():
            continue
        mount_point = _unescape(fields[4])
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        # Later lines of an equal mount point are mounted over the earlier ones: they win.
        if inside and (best is None or len(mount_point) >= len(best[1])):
            best = (right.split()[0], mount_point)
    return best


def placement(store_path: Path, host_id: str, paths: HostPaths | None = None) -> Placement:
    """Where this node writes for the configured ``store_path`` (``<home>/wattprint.db``)."""
    found = filesystem_of(store_path.parent, paths)
    fstype, mount_point = found if found else (None, None)
    network = fstype is not None and fstype.lower() in NETWORK_FS_TYPES
    write_path = store_path.with_name(f"wattprint.{host_id}.db") if network else store_path
    return Placement(write_path=write_path, fstype=fstype, mount_point=mount_point, network=network)


def store_files(store_path: Path) -> list[Path]:
    """Every store file a reader merges: ``store_path`` and the per-node files beside it."""
    directory = store_path.parent
    try:
        names = sorted(p.name for p in directory.iterdir())
    except OSError:
        return []
    main = [store_path] if store_path.name in names else []
    nodes = [directory / n for n in names if _NODE_FILE.match(n) and n != store_path.name]
    return main + nodes
