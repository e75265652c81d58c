"""The provider HTTP client: retries, backoff, Retry-After, timeouts, the disk cache."""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import httpx
import pytest

from fakes.http_recordings.replay import Replay, Reply
from wattprint.errors import ProviderError
from wattprint.intensity.providers._http import (
    HttpClient,
    HttpError,
    HttpOptions,
    cache_key,
    parse_retry_after,
    prune_cache,
)

URL = "https://api.example.test/v1/thing"
BODY = {"value": 1}


def client(http: HttpOptions, **changes: Any) -> HttpClient:
    return HttpClient("demo", replace(http, **changes) if changes else http)


def test_returns_the_json_body(replay: Replay, http: HttpOptions) -> None:
    replay.add("/v1/thing", Reply(200, BODY))
    assert client(http).get_json(URL, {"zone": "FR"}) == BODY
    assert replay.requests[0].url.params["zone"] == "FR"
    assert replay.requests[0].headers["Accept"] == "application/json"


def test_429_with_retry_after_is_retried_after_the_asked_delay(
        replay: Replay, http: HttpOptions, sleeps: list[float]) -> None:
    replay.add("/v1/thing", Reply(429, {"error": "slow down"}, {"Retry-After": "3"}),
               Reply(200, BODY))
    assert client(http).get_json(URL) == BODY
    assert sleeps == [3.0]
    assert len(replay.requests) == 2


def test_retry_after_as_an_http_date(replay: Replay, http: HttpOptions,
                                     sleeps: list[float]) -> None:
    # the fake wall clock reads 2026-01-01T10:20:00Z
    replay.add("/v1/thing", Reply(503, "busy", {"Retry-After": "Thu, 01 Jan 2026 10:20:07 GMT"}),
               Reply(200, BODY))
    assert client(http).get_json(URL) == BODY
    assert sleeps == [7.0]


def test_retry_after_beyond_the_cap_fails_at_once(replay: Replay, http: HttpOptions,
                                                 sleeps: list[float]) -> None:
    replay.add("/v1/thing", Reply(429, {"error": "quota"}, {"Retry-After": "3600"}))
    with pytest.raises(ProviderError, match=r"HTTP 429: quota.*wait 3600 s"):
        client(http).get_json(URL)
    assert sleeps == []
    assert len(replay.requests) == 1


def test_server_errors_are_retried_with_exponential_backoff_then_fail(
        replay: Replay, http: HttpOptions, sleeps: list[float]) -> None:
    replay.add("/v1/thing", Reply(500, {"message": "boom"}))
    with pytest.raises(HttpError, match=r"demo: /v1/thing answered HTTP 500: boom") as info:
        client(http).get_json(URL)
    assert info.value.status == 500
    assert len(replay.requests) == 4  # max_attempts
    # base 0.5 s doubling, jitter 0 -> half of each step
    assert sleeps == [0.25, 0.5, 1.0]


def test_jitter_spreads_the_backoff(replay: Replay, http: HttpOptions,
                                    sleeps: list[float]) -> None:
    replay.add("/v1/thing", Reply(502, "bad gateway"), Reply(200, BODY))
    client(http, jitter=lambda: 0.5).get_json(URL)
    assert sleeps == [0.375]  # 0.5 s step x (0.5 + 0.5 x 0.5)


def test_timeouts_are_retried_then_reported(replay: Replay, http: HttpOptions,
                                            sleeps: list[float]) -> None:
    replay.add("/v1/thing", Reply(raises=httpx.ReadTimeout))
    with pytest.raises(HttpError, match=r"timed out after 4 attempt\(s\) \(connect 2 s, "
                                            r"read 5 s\)") as info:
        client(http).get_json(URL)
    assert info.value.status is None
    assert len(sleeps) == 3


def test_a_timeout_then_success(replay: Replay, http: HttpOptions, sleeps: list[float]) -> None:
    replay.add("/v1/thing", Reply(raises=httpx.ConnectTimeout), Reply(200, BODY))
    assert client(http).get_json(URL) == BODY
    assert sleeps == [0.25]


def test_connection_errors_name_the_endpoint(replay: Replay, http: HttpOptions) -> None:
    replay.add("/v1/thing", Reply(raises=httpx.ConnectError))
    with pytest.raises(ProviderError, match=r"demo: cannot reach /v1/thing after 4 attempt"):
        client(http).get_json(URL)


def test_client_errors_are_not_retried(replay: Replay, http: HttpOptions,
                                       sleeps: list[float]) -> None:
    replay.add("/v1/thing", Reply(404, {"detail": "unknown zone XX"}))
    with pytest.raises(HttpError, match="HTTP 404: unknown zone XX") as info:
        client(http).get_json(URL)
    assert info.value.status == 404
    assert len(replay.requests) == 1 and sleeps == []


def test_a_body_that_is_not_json(replay: Replay, http: HttpOptions) -> None:
    replay.add("/v1/thing", Reply(200, "<html>maintenance</html>"))
    with pytest.raises(ProviderError, match="not JSON: '<html>maintenance</html>'"):
        client(http).get_json(URL)


def test_timeouts_are_short_by_default() -> None:
    options = HttpOptions()
    assert (options.connect_timeout_s, options.read_timeout_s) == (2.0, 5.0)


# -- disk cache -----------------------------------------------------------------------------
def test_a_cache_hit_avoids_the_transport(replay: Replay, http: HttpOptions,
                                          cache_dir: Path) -> None:
    replay.add("/v1/thing", Reply(200, BODY))
    http_client = client(http)
    assert http_client.get_json(URL, {"a": "1"}, ttl_s=60) == BODY
    assert http_client.get_json(URL, {"a": "1"}, ttl_s=60) == BODY
    assert HttpClient("demo", http).get_json(URL, {"a": "1"}, ttl_s=60) == BODY  # another process
    assert len(replay.requests) == 1
    assert list((cache_dir / "demo").glob("*.json")) != []


def test_different_params_are_different_entries(replay: Replay, http: HttpOptions) -> None:
    replay.add("/v1/thing", Reply(200, BODY))
    http_client = client(http)
    http_client.get_json(URL, {"a": "1"}, ttl_s=60)
    http_client.get_json(URL, {"a": "2"}, ttl_s=60)
    assert len(replay.requests) == 2
    assert cache_key(URL, {"a": "1", "b": "2"}) == cache_key(URL, {"b": "2", "a": "1"})


def test_an_expired_entry_is_refetched(replay: Replay, http: HttpOptions, clock: object) -> None:
    replay.add("/v1/thing", Reply(200, {"value": 1}), Reply(200, {"value": 2}))
    http_client = client(http)
    assert http_client.get_json(URL, ttl_s=60) == {"value": 1}
    clock.advance(59)  # type: ignore[attr-defined]
    assert http_client.get_json(URL, ttl_s=60) == {"value": 1}
    clock.advance(2)  # type: ignore[attr-defined]
    assert http_client.get_json(URL, ttl_s=60) == {"value": 2}
    assert len(replay.requests) == 2


def test_ttl_zero_never_caches(replay: Replay, http: HttpOptions, cache_dir: Path) -> None:
    replay.add("/v1/thing", Reply(200, BODY))
    http_client = client(http)
    http_client.get_json(URL)
    http_client.get_json(URL)
    assert len(replay.requests) == 2
    assert not cache_dir.exists()


@pytest.mark.parametrize("content", ["{not json", "", '{"body": 1}', "[1, 2]",
                                     '{"fetched_at": "x", "body": 1}'])
def test_a_corrupt_cache_file_is_a_miss(replay: Replay, http: HttpOptions, cache_dir: Path,
                                        content: str) -> None:
    replay.add("/v1/thing", Reply(200, BODY))
    path = cache_dir / "demo" / f"{cache_key(URL, {})}.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    assert client(http).get_json(URL, ttl_s=60) == BODY
    assert json.loads(path.read_text())["body"] == BODY  # rewritten, whole
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp files left


def test_an_entry_from_the_future_is_a_miss(replay: Replay, http: HttpOptions, cache_dir: Path,
                                            clock: object) -> None:
    replay.add("/v1/thing", Reply(200, BODY))
    path = cache_dir / "demo" / f"{cache_key(URL, {})}.json"
    path.parent.mkdir(parents=True)
    future = clock.wall + 3600  # type: ignore[attr-defined]
    path.write_text(json.dumps({"fetched_at": future, "body": {"value": "stale"}}))
    assert client(http).get_json(URL, ttl_s=86400) == BODY


def test_headers_and_auth_never_reach_the_cache(replay: Replay, http: HttpOptions,
                                                cache_dir: Path) -> None:
    replay.add("/v1/thing", Reply(200, BODY))
    client(http).get_json(URL, {"zone": "FR"}, headers={"auth-token": "SECRET-KEY-42"},
                          auth=("user", "PASSWORD-43"), ttl_s=60)
    assert replay.requests[0].headers["auth-token"] == "SECRET-KEY-42"
    files = list(cache_dir.rglob("*"))
    assert files
    for path in files:
        assert "SECRET" not in path.name and "PASSWORD" not in path.name
        if path.is_file():
            text = path.read_text()
            assert "SECRET-KEY-42" not in text and "PASSWORD-43" not in text
            assert "dXNlcjpQQVNTV09SRC00Mw" not in text  # base64 of user:PASSWORD-43


def test_an_unwritable_cache_does_not_break_requests(replay: Replay, http: HttpOptions,
                                                     tmp_path: Path) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    replay.add("/v1/thing", Reply(200, BODY))
    assert client(http, cache_dir=blocker).get_json(URL, ttl_s=60) == BODY


def test_old_cache_files_are_pruned_at_the_first_write(replay: Replay, http: HttpOptions,
                                                      cache_dir: Path) -> None:
    import os
    import time

    folder = cache_dir / "demo"
    folder.mkdir(parents=True)
    old, recent = folder / "old.json", folder / "recent.json"
    for path in (old, recent):
        path.write_text("{}")
    month_ago = time.time() - 30 * 86400
    os.utime(old, (month_ago, month_ago))
    replay.add("/v1/thing", Reply(200, BODY))
    client(http).get_json(URL, ttl_s=60)
    assert not old.exists() and recent.exists()
    assert prune_cache(folder, 8 * 86400) == 0


def test_the_api_message_joins_error_and_message(replay: Replay, http: HttpOptions) -> None:
    replay.add("/v1/thing", Reply(403, {"error": "Forbidden", "message": "Upgrade your plan"}))
    with pytest.raises(ProviderError, match="HTTP 403: Forbidden: Upgrade your plan$"):
        client(http).get_json(URL)


# -- lifecycle ------------------------------------------------------------------------------
def test_close_stops_new_requests_and_backoff(replay: Replay, http: HttpOptions) -> None:
    replay.add("/v1/thing", Reply(200, BODY))
    http_client = client(http)
    http_client.close()
    with pytest.raises(ProviderError, match="cancelled"):
        http_client.get_json(URL)
    assert replay.requests == []


def _inside(thread: threading.Thread, function: str) -> bool:
    """Whether ``thread`` is running ``function`` right now (anywhere on its stack)."""
    frame = sys._current_frames().get(thread.ident or -1)
    while frame is not None:
        if frame.f_code.co_name == function:
            return True
        frame = frame.f_back
    return False


def _within(seconds: float, condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def test_the_default_wait_is_interrupted_by_close(replay: Replay, http: HttpOptions) -> None:
    # No injected sleep: the real backoff wait. A provider closed at exit must not sit out the
    # 25 s Retry-After it was told; close() from another thread ends the wait and the request.
    replay.add("/v1/thing", Reply(503, "busy", {"Retry-After": "25"}))
    http_client = client(http, sleep=None)
    failures: list[Exception] = []

    def fetch() -> None:
        try:
            http_client.get_json(URL)
        except Exception as exc:
            failures.append(exc)

    worker = threading.Thread(target=fetch, name="fetch", daemon=True)
    worker.start()
    assert _within(2.0, lambda: _inside(worker, "_wait")), "the client never began its backoff"
    closed_at = time.monotonic()
    http_client.close()
    worker.join(timeout=2.0)
    assert not worker.is_alive(), "close() did not interrupt the 25 s backoff"
    assert time.monotonic() - closed_at < 2.0
    assert len(failures) == 1 and isinstance(failures[0], ProviderError)
    assert "cancelled (closing)" in str(failures[0])
    assert len(replay.requests) == 1  # no retry after close


def test_missing_httpx_says_what_to_install(http: HttpOptions,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)  # makes `import httpx` fail
    with pytest.raises(ProviderError, match=r"pip install 'wattprint\[live\]'"):
        client(http).get_json(URL)


def test_importing_the_providers_does_not_import_httpx() -> None:
    import subprocess

    code = ("import sys, wattprint, wattprint.intensity.providers, wattprint.intensity.live; "
            "print('httpx' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(("header", "expected"), [
    (None, None), ("", None), ("12", 12.0), (" 0 ", 0.0), ("-5", 0.0), ("soon", None),
    ("Thu, 01 Jan 2026 10:21:00 GMT", 60.0),
])
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, 1_767_262_800.0) == expected
