"""The JSON Lines sink: one wire object per line, a batch all-or-nothing."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest

import wattprint.sinks.jsonl as jsonl_module
from wattprint.config import load_config
from wattprint.sinks import Sink
from wattprint.sinks.jsonl import JsonlSink, from_config
from wattprint.wire import from_wire, to_wire


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_is_a_batch_sink(tmp_path: Path) -> None:
    assert isinstance(JsonlSink(tmp_path / "x.jsonl"), Sink)


def test_one_sorted_wire_line_per_item_across_batches(tmp_path: Path, build: Any,
                                                      validator: Any) -> None:
    path = tmp_path / "out" / "run.jsonl"  # the folder is created
    sink = JsonlSink(path)
    first = [build.run_info(), build.record(0), build.record(1)]
    second = [build.span(), build.heartbeat(), build.summary()]
    sink.export(first)
    sink.export([])  # nothing to do, nothing written
    sink.export(second)
    sink.close()
    written = lines(path)
    assert written == [json.dumps(to_wire(item), sort_keys=True) for item in first + second]
    for line in written:
        obj = json.loads(line)
        assert list(validator.iter_errors(obj)) == []
    assert [from_wire(json.loads(line)) for line in written] == first + second


def test_appends_to_an_existing_file_and_reopens_after_close(tmp_path: Path, build: Any) -> None:
    path = tmp_path / "run.jsonl"
    path.write_text('{"type": "run"}\n')
    sink = JsonlSink(path)
    sink.export([build.record(0)])
    sink.close()
    sink.close()  # twice is harmless
    sink.export([build.record(1)])
    sink.close()
    assert [json.loads(line).get("seq") for line in lines(path)] == [None, 0, 1]


class FailingOs:
    """The ``os`` module as the sink sees it, with writes that stop after ``budget`` bytes."""

    def __init__(self, budget: int, *, fail_fsync: bool = False) -> None:
        self.budget = budget
        self.fail_fsync = fail_fsync
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def write(self, fd: int, data: Any) -> int:
        self.writes += 1
        if self.budget <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        chunk = bytes(data[: self.budget])
        self.budget -= len(chunk)
        return os.write(fd, chunk)

    def fsync(self, fd: int) -> None:
        if self.fail_fsync:
            raise OSError(errno.EIO, "Input/output error")
        os.fsync(fd)


def test_a_failed_batch_leaves_the_file_as_it_was(tmp_path: Path, build: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "run.jsonl"
    sink = JsonlSink(path)
    sink.export([build.run_info()])
    before = path.read_bytes()
    batch = [build.record(0), build.record(1), build.span()]
    fake = FailingOs(budget=700)  # part of the first line, then a full disk
    monkeypatch.setattr(jsonl_module, "os", fake)
    with pytest.raises(OSError, match="No space left"):
        sink.export(batch)
    assert fake.writes >= 2  # it did write part of the batch before failing ...
    assert path.read_bytes() == before  # ... and undid it
    monkeypatch.setattr(jsonl_module, "os", os)
    sink.export(batch)  # the exporter's retry: the batch appears exactly once
    sink.close()
    assert [json.loads(line)["type"] for line in lines(path)] == ["run", "record", "record", "span"]


def test_a_failed_fsync_is_undone_too(tmp_path: Path, build: Any,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "run.jsonl"
    sink = JsonlSink(path)
    monkeypatch.setattr(jsonl_module, "os", FailingOs(budget=10**9, fail_fsync=True))
    with pytest.raises(OSError, match="Input/output"):
        sink.export([build.record(0)])
    assert path.read_bytes() == b""


def test_short_writes_are_continued(tmp_path: Path, build: Any,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    class ShortOs(FailingOs):
        def write(self, fd: int, data: Any) -> int:
            self.writes += 1
            return os.write(fd, bytes(data[:100]))

    fake = ShortOs(budget=0)
    monkeypatch.setattr(jsonl_module, "os", fake)
    sink = JsonlSink(tmp_path / "run.jsonl")
    sink.export([build.summary()])
    sink.close()
    assert fake.writes > 1
    assert from_wire(json.loads(lines(tmp_path / "run.jsonl")[0])) == build.summary()


def test_an_item_that_cannot_be_encoded_writes_nothing(tmp_path: Path, build: Any) -> None:
    sink = JsonlSink(tmp_path / "run.jsonl")
    with pytest.raises(TypeError):
        sink.export([build.record(0), object()])  # type: ignore[list-item]
    sink.close()
    assert not (tmp_path / "run.jsonl").exists() or lines(tmp_path / "run.jsonl") == []


def test_from_config_uses_jsonl_path(tmp_path: Path) -> None:
    config = load_config({"jsonl_path": str(tmp_path / "custom.jsonl")})
    sink = from_config(config)
    assert sink.name == "jsonl" and sink.path == tmp_path / "custom.jsonl"
