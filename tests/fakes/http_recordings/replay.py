"""Replay hand-written provider responses through ``httpx.MockTransport``.

``Replay`` answers requests by URL path from the JSON bodies in this folder and records every
request with the name of the thread that sent it, so tests can count calls and prove that no
network call ran on the caller's thread.
"""

from __future__ import annotations

import functools
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

RECORDINGS = Path(__file__).resolve().parent


def recording(name: str) -> Any:
    """The JSON body stored at ``http_recordings/<name>``."""
    return json.loads((RECORDINGS / name).read_text(encoding="utf-8"))


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-serialisable, or bytes/str for a raw body
    headers: dict[str, str] = field(default_factory=dict)
    raises: type[Exception] | None = None  # an httpx exception class to raise instead
    block: threading.Event | None = None  # wait for this event before answering

    def build(self, request: httpx.Request) -> httpx.Response:
        if self.block is not None:
            self.block.wait(5.0)
        if self.raises is not None:
            raise self.raises("simulated", request=request)  # type: ignore[call-arg]
        if isinstance(self.body, (bytes, str)):
            return httpx.Response(self.status, content=self.body, headers=self.headers)
        return httpx.Response(self.status, json=self.body, headers=self.headers)


def ok(name: str, **headers: str) -> Reply:
    return Reply(200, recording(name), dict(headers))


class Replay:
    """Routes by URL path; each route replays its replies in order, repeating the last one."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.requests: list[httpx.Request] = []
        self.threads: list[str] = []
        self._lock = threading.Lock()

    def add(self, path: str, *replies: Reply) -> Replay:
        self.routes.setdefault(path, []).extend(replies)
        return self

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
            self.threads.append(threading.current_thread().name)
            queue = self.routes.get(request.url.path)
            if not queue:
                return httpx.Response(599, json={"error": f"no route for {request.url.path}"})
            reply = queue.pop(0) if len(queue) > 1 else queue[0]
        return reply.build(request)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]

    def count(self, path: str) -> int:
        return self.paths().count(path)



def wired_replay(monkeypatch: Any, *, now: datetime | None = None) -> Replay:
    """A Replay that every provider's HTTP goes through (its transport, no retry sleep, no
    jitter); with ``now``, the providers' default clock reads it."""
    from wattprint.intensity import providers
    from wattprint.intensity.providers import _http

    replay = Replay()
    wired = functools.partial(_http.HttpOptions, transport=replay.transport,
                              sleep=lambda _s: None, jitter=lambda: 0.0)
    monkeypatch.setattr(_http, "HttpOptions", wired)
    if now is not None:
        monkeypatch.setattr(providers, "_utc_now", lambda: now)
    return replay


def watttime_forecast(monkeypatch: Any, replay: Replay) -> None:
    """WattTime configured (provider, account, region CAISO_NORTH) and ``replay`` answering its
    login and its recorded CAISO_NORTH forecast."""
    monkeypatch.setenv("WATTPRINT_PROVIDER", "watttime")
    monkeypatch.setenv("WATTPRINT_WATTTIME_USERNAME", "user")
    monkeypatch.setenv("WATTPRINT_WATTTIME_PASSWORD", "secret")
    monkeypatch.setenv("WATTPRINT_WATTTIME_REGION", "CAISO_NORTH")
    replay.add("/login", ok("watttime/login.json"))
    replay.add("/v3/forecast", ok("watttime/forecast_CAISO_NORTH.json"))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
