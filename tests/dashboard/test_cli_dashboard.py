"""`wattprint dashboard`: loopback only, the URL on stdout, the app over the given store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import dashkit
import httpx
import pytest

from wattprint.cli import main
from wattprint.cli.common import UsageError
from wattprint.cli.dashboard import check_loopback


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "example.com", "dashboard.lan"])
def test_a_non_loopback_address_is_refused_saying_why_and_what_to_do(host, capsys):
    assert main(["dashboard", "--host", host]) == 2
    err = capsys.readouterr().err
    assert f"refusing to serve the dashboard on {host!r}" in err
    assert "loopback address only" in err and "ssh -L 8765:127.0.0.1:8765" in err


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_addresses_are_accepted(host):
    check_loopback(host)


def test_the_check_is_a_usage_error():
    with pytest.raises(UsageError, match="has no login"):
        check_loopback("10.0.0.1")


@pytest.mark.slow
def test_serves_the_store_read_only_and_prints_the_url(tmp_path):
    summary = dashkit.finished_run(project="served", experiment="cli")
    store = dashkit.store_path()
    proc = subprocess.Popen([sys.executable, "-m", "wattprint", "dashboard", "--port", "0",
                             "--store", str(store)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()  # printed once the socket is bound
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        with httpx.Client(base_url=url, timeout=10) as client:
            assert summary.run_id in client.get("/runs").text
            assert client.get(f"/runs/{summary.run_id}").status_code == 200
            assert client.post("/runs").status_code == 405
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "serving the local store read-only" in err


@pytest.fixture
def no_serving(monkeypatch):
    """uvicorn's serve loop returns at once: the command's own work is what is tested."""
    import uvicorn

    served = []

    async def serve(self, sockets=None):
        served.append(sockets[0].getsockname())

    monkeypatch.setattr(uvicorn.Server, "serve", serve)
    return served


def test_open_prints_the_url_and_opens_it_in_the_browser(monkeypatch, capsys, no_serving):
    import webbrowser

    dashkit.finished_run()
    opened = []
    monkeypatch.setattr(webbrowser, "open", opened.append)
    assert main(["dashboard", "--port", "0", "--open"]) == 0  # the configured store
    url = capsys.readouterr().out.strip()
    assert opened == [url] and url == f"http://127.0.0.1:{no_serving[0][1]}/"


def test_a_busy_port_is_a_usage_error_naming_it(capsys, no_serving):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert main(["dashboard", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "--port" in err and not no_serving
