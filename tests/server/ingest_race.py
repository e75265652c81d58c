"""Run in a separate process by tests/server/test_ingest_exact.py: one ingest with its own
engine, as one server worker would store it (validate, then store_batch in one transaction)."""

from __future__ import annotations

from typing import Any


def store_in_own_process(db_url: str, project_id: int, items: list[dict[str, Any]],
                         name: str, start: Any, results: Any, stored: Any = None,
                         commit: Any = None) -> None:
    """Wait for ``start``, store ``items``; with ``stored``/``commit``: signal after storing
    and keep the transaction open until ``commit`` is set. Puts (name, accepted, duplicates),
    or (name, "error", text), on ``results``."""
    from wattprint.server.db import make_engine
    from wattprint.server.ingest import store_batch
    from wattprint.server.validate import WireValidator

    engine = make_engine(db_url)
    try:
        validator = WireValidator()
        checked = [validator.check(index, obj) for index, obj in enumerate(items)]
        if not start.wait(60):
            raise TimeoutError("start was never set")
        with engine.begin() as connection:
            result = store_batch(connection, checked, project_id=project_id,
                                 now_s=1_800_000_000.0)
            if stored is not None:
                stored.set()
            if commit is not None and not commit.wait(60):
                raise TimeoutError("commit was never set")
        results.put((name, result.accepted, result.duplicates))
    except BaseException as exc:  # the test reports it
        results.put((name, "error", repr(exc)))
    finally:
        engine.dispose()
