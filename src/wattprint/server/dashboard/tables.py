"""One table spec for every exportable table: columns with their unit, read once, written as
HTML cells, CSV (RFC 4180) or JSON.

A :class:`Column` names its export key with the unit in it (``energy_j``, ``share_pct``), says
how to read the figure from a row (SI, full precision) and how the page writes it (a
:mod:`.fmt` function), so the page and its download show the same numbers by construction.

CSV is RFC 4180 (CRLF line ends, fields quoted when they hold a comma, quote or line break)
and safe to open in a spreadsheet: a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return is prefixed with ``'`` so it is never run as a formula (project and
experiment names come from users). Numbers are written as numbers, at full precision. JSON is
a list of objects keyed by the same column names.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Callable, Iterable, Iterator

from ..._struct import dataclass

__all__ = ["FORMATS", "Column", "Table", "csv_cell", "export_response_parts"]

FORMATS = ("csv", "json")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CHUNK_ROWS = 1000  # rows written per chunk of a streamed download


def _plain(value: Any) -> str:
    return "–" if value is None else str(value)


@dataclass(frozen=True, slots=True)
class Column:
    key: str  # the export's name for it, with the unit: "energy_j", "share_pct", "project"
    label: str  # the page's header
    get: Callable[[Any], Any]  # the row's figure: SI, full precision (None: unknown)
    show: Callable[[Any], str] = _plain  # how the page writes that figure (a fmt function)
    numeric: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    """``rows`` may be a lazy iterable (a long run's records): the page never renders those,
    the export streams them."""

    name: str  # in the export's URL and file name: "by-project", "records", "comparison"
    title: str
    columns: tuple[Column, ...]
    rows: Iterable[Any]
    # A long table's whole row at once, what the columns' getters give one cell at a time:
    # the CSV fields (csv_cell applied) and the JSON object. Per-cell calls cost most of a
    # 100,000-row download.
    csv_row: Callable[[Any], list[Any]] | None = None
    json_row: Callable[[Any], dict[str, Any]] | None = None

    def column(self, key: str) -> Column:
        for col in self.columns:
            if col.key == key:
                return col
        raise KeyError(key)

    def cells(self, row: Any) -> list[tuple[Column, Any, str]]:
        """(column, figure, text as the page writes it) for each column of ``row``."""
        out = []
        for col in self.columns:
            value = col.get(row)
            out.append((col, value, col.show(value)))
        return out

    def records(self) -> Iterator[dict[str, Any]]:
        """Each row as {column key: figure}: what the JSON holds."""
        if self.json_row is not None:
            yield from map(self.json_row, self.rows)
            return
        for row in self.rows:
            yield {col.key: col.get(row) for col in self.columns}

    def csv_chunks(self) -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180: CRLF
        columns = self.columns
        writer.writerow([col.key for col in columns])
        fields = self.csv_row or (lambda row: [csv_cell(col.get(row)) for col in columns])
        for n, row in enumerate(self.rows, 1):
            writer.writerow(fields(row))
            if n % _CHUNK_ROWS == 0:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()

    def json_chunks(self) -> Iterator[str]:
        # a chunk per _CHUNK_ROWS rows: each chunk is one trip through the server's threads
        parts = ["["]
        for n, row in enumerate(self.records()):
            parts.append(("," if n else "") + "\n" + json.dumps(row))
            if len(parts) >= _CHUNK_ROWS:
                yield "".join(parts)
                parts = []
        parts.append("\n]\n")
        yield "".join(parts)

    def to_csv(self) -> str:
        return "".join(self.csv_chunks())

    def to_json(self) -> str:
        return "".join(self.json_chunks())


def csv_cell(value: Any) -> Any:
    """A figure as a CSV field: numbers as they are (full precision), None empty, booleans
    true/false, text that a spreadsheet would run as a formula prefixed with ``'``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value
    text = value if isinstance(value, str) else json.dumps(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def export_response_parts(table: Table, kind: str) -> tuple[Iterator[str], str, dict[str, str]]:
    """(body chunks, media type, headers) of ``table`` downloaded as ``kind`` (csv|json)."""
    filename = f"{table.name}.{kind}"
    headers = {"content-disposition": f'attachment; filename="{filename}"'}
    if kind == "csv":
        return table.csv_chunks(), "text/csv; charset=utf-8; header=present", headers
    return table.json_chunks(), "application/json", headers
