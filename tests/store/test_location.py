"""Network file systems: detected from mountinfo; one file per node there; reads merge them."""

from __future__ import annotations

from pathlib import Path

import pytest
import storekit

from wattprint.config import load_config
from wattprint.doctor import _render_store, _store
from wattprint.host import HostPaths, host_id
from wattprint.sinks.sqlite import SqliteSink
from wattprint.store import open_repository
from wattprint.store.location import filesystem_of, placement, store_files


def fake_host(root: Path, mounts: list[tuple[str, str]], machine_id: str = "machine-a") -> HostPaths:
    """A /proc with a mountinfo listing ``(mount point, fstype)`` and an /etc with a machine id."""
    proc, etc = root / "proc", root / "etc"
    (proc / "self").mkdir(parents=True, exist_ok=True)
    etc.mkdir(parents=True, exist_ok=True)
    lines = [f"{20 + i} 1 0:{i} / {point.replace(' ', chr(92) + '040')} rw,relatime shared:{i} "
             f"- {fstype} src{i} rw" for i, (point, fstype) in enumerate(mounts)]
    (proc / "self" / "mountinfo").write_text("\n".join(lines) + "\n")
    (etc / "machine-id").write_text(machine_id + "\n")
    return HostPaths(sys=root / "sys", proc=proc, etc=etc)


def test_the_longest_mount_point_prefix_wins(tmp_path):
    shared = tmp_path / "shared dir"
    local = shared / "scratch"
    paths = fake_host(tmp_path / "host", [("/", "ext4"), (str(shared), "nfs4"),
                                          (str(local), "xfs"), (str(tmp_path / "shared"), "cifs")])
    assert filesystem_of(shared / "wattprint", paths) == ("nfs4", str(shared))
    assert filesystem_of(local / "x", paths) == ("xfs", str(local))
    assert filesystem_of(tmp_path / "sharedness", paths) == ("ext4", "/")  # not a path prefix
    assert filesystem_of(tmp_path, HostPaths(proc=tmp_path / "none")) is None


@pytest.mark.parametrize("fstype", ["nfs", "nfs4", "lustre", "gpfs", "cifs", "smb3", "beegfs",
                                    "ceph", "fuse.ceph-fuse", "glusterfs", "fuse.glusterfs"])
def test_network_file_systems_get_a_file_per_node_in_rollback_journal_mode(tmp_path, fstype):
    home = tmp_path / "home"
    paths = fake_host(tmp_path / "host", [("/", "ext4"), (str(home), fstype)])
    where = placement(home / "wattprint.db", "abc123", paths)
    assert where.network and where.fstype == fstype
    assert where.write_path == home / "wattprint.abc123.db"
    assert where.journal_mode == "delete"


def test_a_local_file_system_keeps_the_one_file_in_wal_mode(tmp_path):
    paths = fake_host(tmp_path / "host", [("/", "ext4")])
    where = placement(tmp_path / "wattprint.db", "abc123", paths)
    assert (where.network, where.write_path, where.journal_mode) == (
        False, tmp_path / "wattprint.db", "wal")


def test_nodes_write_their_own_files_and_reads_merge_them(tmp_path):
    home = tmp_path / "home"
    store_path = home / "wattprint.db"
    node_a = fake_host(tmp_path / "a", [("/", "ext4"), (str(home), "lustre")], "machine-a")
    node_b = fake_host(tmp_path / "b", [("/", "ext4"), (str(home), "lustre")], "machine-b")
    for node, names, offset in ((node_a, ["a1", "a2", "a3"], 0), (node_b, ["b1", "b2"], 0.5)):
        sink = SqliteSink(store_path, paths=node)
        for i, run_id in enumerate(names):
            sink.export(storekit.run_batch(run_id, started=storekit.T0 + i + offset,
                                           hostname=f"node-{run_id[0]}"))
        sink.close()
        assert sink.write_path == home / f"wattprint.{host_id(node)}.db"
    assert not store_path.exists()
    assert len(store_files(store_path)) == 2
    repo = open_repository(store_path, paths=node_a, host_id=host_id(node_a), hostname="node-a")
    try:
        first = repo.runs(limit=3)
        second = repo.runs(limit=3, cursor=first.next_cursor)
        assert [r.run_id for r in first.items] == ["a3", "b2", "a2"]
        assert [r.run_id for r in second.items] == ["b1", "a1"] and second.next_cursor is None
        assert repo.resolve_id("b2") == "b2" and len(repo.records("b2")) == 3
        assert [a.key for a in repo.aggregate("host")] == ["node-a", "node-b"]
    finally:
        repo.close()


def test_doctor_says_the_store_is_on_a_network_file_system(tmp_path):
    home = tmp_path / "home"
    paths = fake_host(tmp_path / "host", [("/", "ext4"), (str(home), "nfs4")])
    config = load_config({"home": str(home)})
    sink = SqliteSink(config.store_path, paths=paths)
    sink.export(storekit.run_batch("r1"))
    sink.close()
    report = _store(config, paths)
    assert report["network"] is True and report["fstype"] == "nfs4"
    assert report["write_path"] == str(home / f"wattprint.{host_id(paths)}.db")
    assert report["runs"] == 1 and report["exists"] is True
    text = "\n".join(_render_store(report))
    assert "network file system (nfs4" in text and "own file" in text and "merge" in text
    assert "(network)" in text


def test_doctor_on_a_fresh_local_home(tmp_path):
    paths = fake_host(tmp_path / "host", [("/", "ext4")])
    report = _store(load_config({"home": str(tmp_path / "fresh")}), paths)
    assert report["exists"] is False and report["network"] is False and "runs" not in report
    assert "not created yet" in "\n".join(_render_store(report))


def test_another_nodes_older_file_is_read_through_a_migrated_copy_and_left_as_it_is(tmp_path):
    import sqlite3

    home = tmp_path / "home"
    node = fake_host(tmp_path / "a", [("/", "ext4"), (str(home), "gpfs")], "machine-a")
    other = home / "wattprint.0123456789abcdef.db"  # written by an older wattprint elsewhere
    storekit.make_v1_store(other)
    repo = open_repository(home / "wattprint.db", paths=node, host_id=host_id(node),
                           hostname="node-a")
    try:
        assert [r.run_id for r in repo.runs().items] == ["old-run"]
        assert [s.count for s in repo.spans("old-run")] == [1]
    finally:
        repo.close()
    with sqlite3.connect(other) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1


def test_rescore_of_another_nodes_run_says_where_to_run_it(tmp_path, monkeypatch):
    from wattprint.cli.stored import _elsewhere
    from wattprint.config import load_config
    from wattprint.errors import StoreError

    home = tmp_path / "home"
    store_path = home / "wattprint.db"
    for name, runs in (("machine-a", ["a1"]), ("machine-b", ["b1"])):
        node = fake_host(tmp_path / name, [("/", "ext4"), (str(home), "nfs4")], name)
        sink = SqliteSink(store_path, paths=node)
        for run_id in runs:
            sink.export(storekit.run_batch(run_id, hostname=f"node-{run_id[0]}"))
        sink.close()
    config = load_config(environ={"WATTPRINT_HOME": str(home)})
    own = home / "wattprint.own.db"
    with pytest.raises(StoreError, match=r"run b1 was recorded on node-b.*rescore b1` on node-b"):
        _elsewhere(config, "b1", own)
    _elsewhere(config, "zz", own)  # unknown everywhere: the caller's own error stands
