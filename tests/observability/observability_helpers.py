"""Helpers shared by the observability sinks' tests."""

from __future__ import annotations


class KeepOpen:
    """Delegates to a sink but keeps it open when the tracker closes it, so a test can read
    what the sink shows after the run's last batch; ``closed`` says the tracker did close."""

    def __init__(self, sink):
        self.sink = sink
        self.name = sink.name
        self.closed = False

    def export(self, batch):
        self.sink.export(batch)

    def close(self):
        self.closed = True


class FakePushgateway:
    """An in-process HTTP server answering like a Prometheus Pushgateway (v1.x).

    ``PUT``/``POST /metrics/job/<job>[/<label>/<value>...]`` with a text-format body: 200 (or
    ``accept_status``), the body parsed with prometheus_client's parser and kept per group
    (PUT replaces the group, POST replaces the pushed families); a path without a job or a body
    that does not parse: 400 with the reason, as the real one. ``mode``: "ok", "error" (500
    with a message, as when its persistence fails) or "slow" (holds the request until
    ``release()``). ``requests`` lists (method, path) in arrival order.
    """

    def __init__(self, *, accept_status: int = 200) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.mode = "ok"
        self.accept_status = accept_status
        self.groups: dict[str, dict] = {}
        self.requests: list[tuple[str, str]] = []
        self._released = threading.Event()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_PUT(self):
                gateway._push(self, replace_group=True)

            def do_POST(self):
                gateway._push(self, replace_group=False)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _push(self, handler, *, replace_group: bool) -> None:
        from prometheus_client.parser import text_string_to_metric_families

        body = handler.rfile.read(int(handler.headers.get("Content-Length", 0))).decode()
        self.requests.append((handler.command, handler.path))
        if self.mode == "slow":
            self._released.wait(30)
        if self.mode == "error":
            return self._answer(handler, 500, "error writing to the persistence file")
        parts = handler.path.strip("/").split("/")
        if parts[:2] != ["metrics", "job"] or len(parts) < 3 or len(parts) % 2 == 0:
            return self._answer(handler, 400, "bad grouping key path")
        try:
            families = {f.name: f.samples for f in text_string_to_metric_families(body)}
        except ValueError as exc:
            return self._answer(handler, 400, f"text format parsing error: {exc}")
        group = "/".join(parts[2:])
        if replace_group or group not in self.groups:
            self.groups[group] = families
        else:
            self.groups[group].update(families)
        self._answer(handler, self.accept_status, "")

    @staticmethod
    def _answer(handler, status: int, message: str) -> None:
        data = message.encode()
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def release(self) -> None:
        self._released.set()

    def close(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()


def finished_run_batch(make_tracker, clock, seconds: float = 20.0) -> list:
    """[run info, records] of a finished run of ``seconds`` on the fake clock, as one batch a
    sink could be given (twice, to prove it counts once)."""
    from wattprint.sinks.memory import MemorySink

    memory = MemorySink()
    tracker = make_tracker(memory)
    tracker.start()
    clock.advance(seconds)
    tracker.stop()
    return [memory.run, *memory.records]
