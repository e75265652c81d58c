"""KeptFile, the kept-open pread file under the rapl and hwmon sensors and procfs.ProcFile."""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

import pytest

from fakes.powercap import close_fds_to
from wattprint.sensors._files import KeptFile, close_quietly, open_readonly
from wattprint.sensors.procfs import ProcFile


class CountingOpener:
    def __init__(self) -> None:
        self.paths: list[str] = []

    def __call__(self, path: str) -> int:
        self.paths.append(path)
        return open_readonly(path)


@pytest.fixture
def counter(tmp_path: Path) -> Path:
    path = tmp_path / "energy_uj"
    path.write_text("1000\n")
    return path


def test_one_fd_sees_every_new_value_and_its_offset_never_moves(counter: Path) -> None:
    kept = KeptFile(str(counter), fd=open_readonly(str(counter)))
    values = []
    for value in (1000, 2500, 7):
        counter.write_text(f"{value}\n")  # rewritten in place, as sysfs regenerates it
        values.append(kept.read_int())
    assert values == [1000, 2500, 7]
    # pread leaves the offset a forked child shares with us where it was.
    assert os.lseek(kept.fd, 0, os.SEEK_CUR) == 0
    kept.close()


def test_opens_on_first_read_close_on_exec(counter: Path) -> None:
    opener = CountingOpener()
    kept = KeptFile(str(counter), opener=opener)
    assert kept.fd == -1 and opener.paths == []
    assert kept.read(32) == b"1000\n"
    assert opener.paths == [str(counter)]
    assert fcntl.fcntl(kept.fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    kept.close()


def test_a_bad_fd_is_reopened_once_without_a_leak(counter: Path) -> None:
    opener = CountingOpener()
    kept = KeptFile(str(counter), fd=opener(str(counter)), opener=opener)
    assert close_fds_to(counter) == 1  # closed behind its back
    counter.write_text("42\n")
    assert kept.read_int() == 42
    assert len(opener.paths) == 2
    assert close_fds_to(counter) == 1  # exactly one fresh fd


def test_a_failed_reopen_raises_oserror_and_keeps_no_fd(counter: Path) -> None:
    kept = KeptFile(str(counter), fd=open_readonly(str(counter)))
    close_fds_to(counter)
    counter.unlink()
    with pytest.raises(OSError):
        kept.read(32)
    assert kept.fd == -1
    counter.write_text("5\n")  # back again: the next read opens it
    assert kept.read_int() == 5
    kept.close()


def test_locate_finds_the_file_again_under_a_new_path(tmp_path: Path) -> None:
    old, new = tmp_path / "hwmon0", tmp_path / "hwmon1"
    old.mkdir()
    (old / "energy1_input").write_text("900\n")

    class Moving(KeptFile):
        __slots__ = ()

        def locate(self) -> str:
            return str(new / "energy1_input") if new.is_dir() else self.path

    kept = Moving(str(old / "energy1_input"), fd=open_readonly(str(old / "energy1_input")))
    old.rename(new)  # a driver reload: the same attribute under a new directory
    (new / "energy1_input").write_text("3\n")
    close_fds_to(new / "energy1_input")
    assert kept.read_int() == 3
    assert kept.path == str(new / "energy1_input")
    kept.close()


def test_close_is_final_and_twice_is_harmless(counter: Path) -> None:
    opener = CountingOpener()
    kept = KeptFile(str(counter), fd=opener(str(counter)), opener=opener)
    kept.close()
    kept.close()
    assert close_fds_to(counter) == 0
    with pytest.raises(OSError) as caught:
        kept.read(32)
    assert caught.value.errno == errno.EBADF
    assert len(opener.paths) == 1  # a read after close opens nothing


def test_read_int_names_the_file_and_what_it_held(counter: Path) -> None:
    counter.write_text("")
    kept = KeptFile(str(counter))
    with pytest.raises(ValueError, match=r"energy_uj: not a number: b''"):
        kept.read_int()
    kept.close()


def test_close_quietly_ignores_closed_and_negative_fds(counter: Path) -> None:
    fd = open_readonly(str(counter))
    close_quietly(fd)
    close_quietly(fd)  # EBADF: already released
    close_quietly(-1)


def test_proc_file_reads_and_reopens(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 100 0 100 800 0 0 0 0 0 0\n")
    uptime = tmp_path / "uptime"
    uptime.write_text("123.45 678.90\n")
    stat_file, uptime_file = ProcFile(str(stat)), ProcFile(str(uptime))

    assert stat_file.busy_total_s(100) == (2.0, 10.0)
    assert uptime_file.uptime_s() == 123.45
    close_fds_to(uptime)  # a forked child closed it, say
    uptime.write_text("130.00 700.00\n")
    assert uptime_file.uptime_s() == 130.0

    uptime.unlink()
    close_fds_to(uptime)
    with pytest.raises(OSError):
        uptime_file.uptime_s()
    stat_file.close()
