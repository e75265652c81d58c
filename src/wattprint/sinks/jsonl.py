"""JSON Lines: one object per line, tagged ``{"type": "run" | "record" | "span" | "summary"}``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..records import Record, RunInfo, RunSummary, SpanRecord

if TYPE_CHECKING:
    from ..config import Config


class JsonlSink:
    name = "jsonl"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[str] | None = None

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        if self._fh is None:
            return
        self._fh.write(json.dumps({"type": kind, **data}, sort_keys=True) + "\n")
        self._fh.flush()

    def open(self, run: RunInfo) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("a")
        self._emit("run", run.to_dict())

    def write(self, record: Record) -> None:
        row = record.to_row()
        row["components"] = [c.to_dict() for c in record.components]
        row["gaps"] = list(record.gaps)
        self._emit("record", row)

    def write_span(self, span: SpanRecord) -> None:
        self._emit("span", span.to_dict())

    def flush(self) -> None:
        pass  # written through line by line

    def close(self, summary: RunSummary) -> None:
        self._emit("summary", summary.to_json())
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def from_config(config: Config) -> JsonlSink:
    return JsonlSink(config.jsonl_path or Path("wattprint.jsonl"))
