"""A small JSON-over-HTTP client for the live intensity providers.

What it adds over a bare ``httpx.Client``, and why:

- **Lazy import.** ``httpx`` is the ``live`` extra; importing wattprint must not need it. A
  missing ``httpx`` becomes a :class:`~wattprint.errors.ProviderError` saying what to install.
- **Short timeouts** (connect 2 s, read 5 s): a provider is a nice-to-have next to the bundled
  tables, never a reason to hang.
- **Bounded retries** with exponential backoff and jitter on 429, 5xx, timeouts and connection
  errors, honouring ``Retry-After``. A ``Retry-After`` longer than ``max_retry_after_s`` is not
  waited out: the call fails at once, naming the delay, so a background refresh or a ``rescore``
  never stalls for minutes. ``sleep`` is injected (tests record it; the default waits on an
  event that :meth:`HttpClient.close` sets, so closing interrupts a backoff).
- **A disk cache with a TTL per call.** One JSON file per request under ``cache_dir``, named by
  a hash of the URL and query parameters only. Headers (where API keys and bearer tokens live)
  are never part of the key nor of the file. Writes are atomic (temp file + ``os.replace``) so
  two processes never see half a file; an unreadable or corrupt file is a miss, not a crash.

Errors are :class:`HttpError` (a ``ProviderError``) carrying the HTTP status when there is one,
so a provider can react to 401 (log in again) or 403 (explain the plan's limits).
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..._log import get_logger
from ..._struct import dataclass
from ...errors import ProviderError

if TYPE_CHECKING:
    import httpx

__all__ = ["INSTALL_HINT", "HttpClient", "HttpError", "HttpOptions"]

log = get_logger("wattprint.intensity")

INSTALL_HINT = "live carbon intensity needs httpx: pip install 'wattprint[live]'"

# Statuses worth another try: rate limiting and server-side trouble. Anything else in 4xx is
# the request's fault (bad key, unknown zone) and would fail the same way again.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_BODY_EXCERPT = 300  # characters of an error body quoted in a message


class HttpError(ProviderError):
    """A request failed; ``status`` is the HTTP status, or None for timeouts and network errors."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class HttpOptions:
    """How a provider talks to its API. Every part is injectable for tests."""

    transport: Any | None = None  # an httpx.BaseTransport (tests: httpx.MockTransport)
    cache_dir: Path | None = None  # e.g. <wattprint home>/cache/intensity; None: no disk cache
    connect_timeout_s: float = 2.0
    read_timeout_s: float = 5.0
    max_attempts: int = 4  # first try included
    backoff_base_s: float = 0.5
    backoff_max_s: float = 8.0
    max_retry_after_s: float = 30.0
    # Cache files untouched this long are deleted (once per client, at its first write): URLs
    # with a time in them (NESO windows, history chunks) would otherwise pile up.
    prune_after_s: float = 8 * 86400.0
    sleep: Callable[[float], None] | None = None  # None: an interruptible real wait
    wall_clock: Callable[[], float] = time.time  # cache ages
    jitter: Callable[[], float] = random.random  # in [0, 1)
    user_agent: str = "wattprint"


class HttpClient:
    """GET JSON with retries and a disk cache; one instance per provider."""

    def __init__(self, provider: str, options: HttpOptions | None = None) -> None:
        self.provider = provider
        self.options = options or HttpOptions()
        self._closed = threading.Event()
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()
        self._pruned = False

    # -- public -------------------------------------------------------------------------
    def get_json(
        self,
        url: str,
        params: Mapping[str, str] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        ttl_s: float = 0.0,
    ) -> Any:
        """The decoded JSON body of ``GET url?params``, from the cache when younger than
        ``ttl_s`` (0: never cached). ``headers`` and ``auth`` never reach the cache."""
        query = dict(params or {})
        if ttl_s > 0:
            hit = self.cached(url, query, ttl_s=ttl_s)
            if hit is not None:
                return hit
        body = self._fetch(url, query, headers or {}, auth)
        if ttl_s > 0:
            self._store(url, query, body)
        return body

    def cached(self, url: str, params: Mapping[str, str] | None = None, *,
               ttl_s: float) -> Any | None:
        """The cached body for this request if it is younger than ``ttl_s``, else None."""
        path = self._cache_path(url, dict(params or {}))
        if path is None:
            return None
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            fetched = float(entry["fetched_at"])
            body = entry["body"]
        except (OSError, ValueError, KeyError, TypeError):
            return None  # missing, unreadable or corrupt: a miss, refetch and overwrite
        age = self.options.wall_clock() - fetched
        # A negative age means the clock went back: the entry's age is unknown, so refetch.
        return body if 0 <= age < ttl_s else None

    def close(self) -> None:
        """Interrupt any backoff wait and close the connection pool. Safe from any thread."""
        self._closed.set()
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception as exc:  # noqa: BLE001 - closing mid-request may complain
                log.debug("closing the %s HTTP client: %r", self.provider, exc)

    # -- network ------------------------------------------------------------------------
    def _http(self) -> httpx.Client:
        with self._lock:
            if self._closed.is_set():
                raise HttpError(f"{self.provider}: client closed; no new requests")
            if self._client is None:
                httpx = _import_httpx()
                opts = self.options
                timeout = httpx.Timeout(opts.read_timeout_s, connect=opts.connect_timeout_s)
                self._client = httpx.Client(
                    transport=opts.transport, timeout=timeout,
                    headers={"Accept": "application/json", "User-Agent": opts.user_agent},
                )
            return self._client

    def _fetch(self, url: str, params: dict[str, str], headers: Mapping[str, str],
               auth: tuple[str, str] | None) -> Any:
        httpx = _import_httpx()
        opts = self.options
        endpoint = _endpoint(url)
        for attempt in range(1, opts.max_attempts + 1):
            if self._closed.is_set():
                raise HttpError(f"{self.provider}: request to {endpoint} cancelled (closing)")
            try:
                response = self._http().get(url, params=params, headers=dict(headers), auth=auth)
            except httpx.TimeoutException as exc:
                failure = HttpError(
                    f"{self.provider}: {endpoint} timed out after {attempt} attempt(s) "
                    f"(connect {opts.connect_timeout_s:g} s, read {opts.read_timeout_s:g} s): "
                    f"{type(exc).__name__}")
                delay = self._backoff(attempt)
            except httpx.HTTPError as exc:  # connection refused, DNS failure, ...
                failure = HttpError(f"{self.provider}: cannot reach {endpoint} after "
                                    f"{attempt} attempt(s): {exc or type(exc).__name__}")
                delay = self._backoff(attempt)
            except RuntimeError:
                # httpx refuses requests on a client closed meanwhile by close().
                if self._closed.is_set():
                    raise HttpError(f"{self.provider}: request to {endpoint} cancelled "
                                    "(closing)") from None
                raise
            else:
                if response.status_code < 400:
                    return self._decode(response, endpoint)
                failure = self._status_error(response, endpoint)
                if response.status_code not in RETRY_STATUSES:
                    raise failure
                delay = self._retry_delay(response, attempt, failure)
            if attempt == opts.max_attempts:
                raise failure
            log.debug("%s; retrying in %.2f s", failure, delay)
            self._wait(delay)
        raise AssertionError("unreachable")  # the loop always returns or raises

    def _decode(self, response: httpx.Response, endpoint: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise HttpError(
                f"{self.provider}: {endpoint} answered HTTP {response.status_code} with a body "
                f"that is not JSON: {_excerpt(response.text)!r}", status=response.status_code,
            ) from None

    def _status_error(self, response: httpx.Response, endpoint: str) -> HttpError:
        return HttpError(
            f"{self.provider}: {endpoint} answered HTTP {response.status_code}: "
            f"{api_message(response)}", status=response.status_code,
        )

    def _retry_delay(self, response: httpx.Response, attempt: int, failure: HttpError) -> float:
        retry_after = parse_retry_after(response.headers.get("Retry-After"),
                                        self.options.wall_clock())
        if retry_after is None:
            return self._backoff(attempt)
        if retry_after > self.options.max_retry_after_s:
            raise HttpError(f"{failure} (the API asks to wait {retry_after:.0f} s, longer than "
                            f"the {self.options.max_retry_after_s:.0f} s wattprint waits)",
                            status=failure.status)
        return retry_after

    def _backoff(self, attempt: int) -> float:
        # Exponential, capped, with jitter in [50 %, 100 %] of the step so that many clients
        # started together (a cluster of jobs) do not retry in lockstep.
        opts = self.options
        step = min(opts.backoff_max_s, opts.backoff_base_s * 2.0 ** (attempt - 1))
        return step * (0.5 + 0.5 * opts.jitter())

    def _wait(self, seconds: float) -> None:
        if self.options.sleep is not None:
            self.options.sleep(seconds)
        else:
            self._closed.wait(seconds)

    # -- disk cache ---------------------------------------------------------------------
    def _cache_path(self, url: str, params: Mapping[str, str]) -> Path | None:
        root = self.options.cache_dir
        if root is None:
            return None
        return root / self.provider / f"{cache_key(url, params)}.json"

    def _store(self, url: str, params: Mapping[str, str], body: Any) -> None:
        path = self._cache_path(url, params)
        if path is None:
            return
        entry = {"url": url, "params": dict(params), "fetched_at": self.options.wall_clock(),
                 "body": body}
        try:
            atomic_write_json(path, entry)
        except OSError as exc:  # a read-only home must not stop live values
            log.debug("cannot write the intensity cache %s: %r", path, exc)
            return
        if not self._pruned:
            self._pruned = True
            prune_cache(path.parent, self.options.prune_after_s)


# -- helpers (module level so providers and tests can use them) ---------------------------
def cache_key(url: str, params: Mapping[str, str]) -> str:
    """A stable file name for a request: URL and sorted query only, never headers."""
    canonical = json.dumps([url, sorted((str(k), str(v)) for k, v in params.items())])
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:40]


def atomic_write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, separators=(",", ":"))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def prune_cache(folder: Path, older_than_s: float) -> int:
    """Delete cache files (and stale temp files) not modified for ``older_than_s``; the
    file system's clock decides, as for any other file age. Returns how many went."""
    cutoff = time.time() - older_than_s
    removed = 0
    for path in folder.glob("*.json*"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except OSError:
            continue  # another process pruned it first, or it is not ours to delete
    return removed


def parse_retry_after(value: str | None, now_s: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now_s)


def api_message(response: httpx.Response) -> str:
    """The API's own words for an error: JSON ``error``/``message``/``detail`` or the text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        words = [body[key].strip() for key in ("error", "message", "detail", "msg")
                 if isinstance(body.get(key), str) and body[key].strip()]
        if words:
            return _excerpt(": ".join(dict.fromkeys(words)))
    text = response.text.strip()
    return _excerpt(text) if text else response.reason_phrase or "no message"


def _endpoint(url: str) -> str:
    # Messages name the endpoint, not the full URL: queries can be long and are not secret,
    # but an endpoint path is what a user can look up in the provider's docs.
    rest = url.split("://", 1)[-1]
    return "/" + rest.split("/", 1)[1] if "/" in rest else url


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _BODY_EXCERPT else text[: _BODY_EXCERPT - 1] + "…"


def _import_httpx() -> Any:
    try:
        import httpx
    except ImportError:
        raise ProviderError(INSTALL_HINT) from None
    return httpx
