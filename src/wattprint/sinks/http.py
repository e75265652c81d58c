"""HTTP: wire objects (:mod:`wattprint.wire`) to a team server's ``POST /api/v1/ingest``.

One request per batch (split in parts of at most ``max_items``), body
``{"items": [to_wire(item), ...]}``, header ``Authorization: Bearer <api key>``. The server answers
200 ``{"accepted": n, "duplicates": m}`` and is idempotent on ``(run_id, seq)`` for records,
``(run_id, span_id)`` for spans and ``run_id`` for the run and its summary, so a batch sent again
after a timeout (the server may have stored it) is harmless.

What a failure means, and so what the exporter does (:mod:`wattprint.exporter`):

- no answer (connect 2 s, read 10 s), 408, 429, 5xx, a 200 that is not the expected JSON,
  401/403/404 (a wrong key, scope or URL: nothing the batch can change, and it may be fixed while
  the data waits): :class:`HttpSinkError`; the exporter keeps the batch, retries with backoff and
  spools it if the server stays unreachable.
- 400, 413 for a single item, 422 and other 4xx: the server judged *this batch* invalid, and
  sending it again cannot help. :class:`~wattprint.errors.ExportRejected`: the exporter sets the
  batch aside in the spool and goes on, so one bad batch cannot block the run's later data.
  A 413 for several items first splits the batch in halves (each half is idempotent).

The API key is sent only in the header: it is in no message, log line or ``repr``.
httpx is imported on the first export (on the exporter's thread), not when the tracker starts.
"""

from __future__ import annotations

import importlib.util

from ..errors import ConfigError, ExportRejected, WattprintError
from ..records import RunInfo
from ..wire import to_wire

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Sequence

    import httpx

    from ..config import Config
    from ..wire import Item

__all__ = ["INGEST_PATH", "HttpSink", "HttpSinkError", "RescoreNotTaken", "from_config",
           "server_login"]

INGEST_PATH = "/api/v1/ingest"
INSTALL_HINT = "pip install 'wattprint[server]'"
CONNECT_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 10.0
# Statuses that say "not now" (retry) rather than "never this batch".
_RETRYABLE_4XX = frozenset({401, 403, 404, 408, 409, 425, 429})


class HttpSinkError(WattprintError):
    """The server could not take a batch now (unreachable, slow, 5xx, wrong key): retry later."""


class RescoreNotTaken(WattprintError):
    """The server refused a rescore (``status``: 404 when the run is not there or the server
    predates rescores, 400 for a body it cannot store)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def require_httpx() -> None:
    if importlib.util.find_spec("httpx") is None:
        raise ConfigError(f"the http sink needs httpx, which is not installed: run "
                          f"`{INSTALL_HINT}`", key="sinks")


class HttpSink:
    name = "http"

    def __init__(self, server_url: str, api_key: str, *, max_items: int = 500,
                 transport: httpx.BaseTransport | None = None,
                 connect_timeout_s: float = CONNECT_TIMEOUT_S,
                 read_timeout_s: float = READ_TIMEOUT_S) -> None:
        self.server_url = server_url.rstrip("/")
        self._api_key = api_key
        self._max_items = max(1, max_items)
        self._transport = transport  # tests inject one; None: the network
        self._timeouts_s = (connect_timeout_s, read_timeout_s)
        self._client: httpx.Client | None = None

    def __repr__(self) -> str:
        return f"HttpSink({self.server_url!r})"

    @property
    def ingest_url(self) -> str:
        return self.server_url + INGEST_PATH

    def export(self, batch: Sequence[Item]) -> None:
        """Send ``batch``; returns once the server stored all of it, raises otherwise."""
        items = list(batch)
        if not items:
            return
        info = items[0] if isinstance(items[0], RunInfo) else None
        rest = items[1:] if info is not None else items
        step = self._max_items
        for start in range(0, max(1, len(rest)), step):
            # Every part carries the run (idempotent by run_id): a part may be retried alone.
            part = ([info] if info is not None else []) + rest[start:start + step]
            self._send_split(part, info)

    def _send_split(self, part: list[Item], info: RunInfo | None) -> None:
        try:
            self.send([to_wire(item) for item in part])
        except _TooLarge:
            body = part[1:] if info is not None else part
            if len(body) <= 1:
                raise ExportRejected(f"the server at {self.ingest_url} refused one item as too "
                                     "large (413)") from None
            half = len(body) // 2
            head = [info] if info is not None else []
            self._send_split(head + body[:half], info)
            self._send_split(head + body[half:], info)

    def send(self, wire_items: list[dict[str, Any]]) -> dict[str, Any]:
        """POST wire objects; the server's JSON answer (``accepted``, ``duplicates``)."""
        import json

        client = self._open()
        content = json.dumps({"items": wire_items}, separators=(",", ":")).encode("utf-8")
        import httpx

        try:
            response = client.post(self.ingest_url, content=content, headers={
                "Authorization": f"Bearer {self._api_key}",
                "Content-Type": "application/json",
            })
        except httpx.TimeoutException as exc:
            raise HttpSinkError(f"no answer from {self.ingest_url} in time "
                                f"({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise HttpSinkError(f"cannot reach {self.ingest_url}: {type(exc).__name__}: "
                                f"{exc}") from None
        return _answer(response, self.ingest_url, len(wire_items))

    def send_rescore(self, run_id: str, rescore: dict[str, Any]) -> bool:
        """POST one stored rescore of ``run_id`` (``wattprint push`` sends them after the run's
        items): True when the server stored it, False when it had it already. Raises
        :class:`RescoreNotTaken` with the server's status and reason when it refused it (404:
        the run is not there, or the server predates rescores), :class:`HttpSinkError` when
        the server could not be reached."""
        import json
        from urllib.parse import quote

        import httpx

        url = f"{self.server_url}/api/v1/runs/{quote(run_id, safe='')}/rescores"
        content = json.dumps(rescore, separators=(",", ":")).encode("utf-8")
        try:
            response = self._open().post(url, content=content, headers={
                "Authorization": f"Bearer {self._api_key}", "Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            raise HttpSinkError(f"cannot reach {url}: {type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise RescoreNotTaken(response.status_code,
                                  f"{url} answered {response.status_code}: {_detail(response)}")
        try:
            return bool(response.json()["stored"])
        except (ValueError, KeyError, TypeError):
            raise HttpSinkError(f"{url} answered 200 but not with {{stored}} JSON; is "
                                "server_url a wattprint server?") from None

    def _open(self) -> httpx.Client:
        if self._client is None:
            import httpx

            connect_s, read_s = self._timeouts_s
            self._client = httpx.Client(
                timeout=httpx.Timeout(read_s, connect=connect_s), transport=self._transport,
                follow_redirects=False, headers={"User-Agent": "wattprint-http-sink"})
        return self._client

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()


class _TooLarge(Exception):
    pass


def _answer(response: httpx.Response, url: str, sent: int) -> dict[str, Any]:
    status = response.status_code
    if status == 200:
        try:
            data = response.json()
            counted = int(data["accepted"]) + int(data["duplicates"])
        except (ValueError, KeyError, TypeError):
            # The server may have stored it; a resend is harmless (idempotent).
            raise HttpSinkError(f"{url} answered 200 but not with {{accepted, duplicates}} JSON; "
                                "is server_url a wattprint server?") from None
        if counted != sent:
            raise HttpSinkError(f"{url} accounted for {counted} of {sent} items; will resend")
        return dict(data)
    detail = _detail(response)
    if status == 413:
        raise _TooLarge(detail)
    if 400 <= status < 500 and status not in _RETRYABLE_4XX:
        raise ExportRejected(f"the server at {url} rejected the batch ({status}): {detail}")
    hint = {401: "; the API key is wrong or revoked: run `wattprint login`",
            403: "; the API key lacks the ingest scope or this project",
            404: "; check server_url"}.get(status, "")
    raise HttpSinkError(f"{url} answered {status}: {detail}{hint}")


def _detail(response: httpx.Response) -> str:
    """The server's ``detail`` (message, index, field) in words; the raw text start otherwise."""
    try:
        detail = response.json()["detail"]
    except (ValueError, KeyError, TypeError):
        return response.text[:200].strip() or response.reason_phrase
    if isinstance(detail, dict):
        where = []
        if detail.get("index") is not None:
            where.append(f"item {detail['index']}")
        if detail.get("field"):
            where.append(f"field {detail['field']}")
        message = str(detail.get("message", detail))[:300]
        return f"{message} ({', '.join(where)})" if where else message
    return str(detail)[:200]


def server_login(config: Config) -> tuple[str, str]:
    """(server URL, API key): ``server_url`` / ``server_api_key`` from the config, else the login
    ``wattprint login`` saved (its key only when its URL is the configured one)."""
    from ..credentials import load_credentials

    url, key = config.server_url, config.server_api_key
    if url is None or key is None:
        saved = load_credentials(config.environ)
        if saved is not None and (url is None or url == saved.server_url):
            url = url or saved.server_url
            key = key or saved.api_key
    if url is None:
        raise ConfigError("no team server is configured: run `wattprint login URL`, or set "
                          "server_url (WATTPRINT_SERVER_URL) and server_api_key "
                          "(WATTPRINT_SERVER_API_KEY)", key="server_url")
    if key is None:
        raise ConfigError(f"no API key for {url}: run `wattprint login {url}` or set "
                          "server_api_key (WATTPRINT_SERVER_API_KEY)", key="server_api_key")
    return url, key


def from_config(config: Config) -> HttpSink:
    """The sink for the configured server (see :func:`server_login`)."""
    require_httpx()
    url, key = server_login(config)
    return HttpSink(url, key)
