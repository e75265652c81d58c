"""``login`` and ``push``: the tracker's side of the team server.

``login URL`` asks for an API key (no echo, or one line on stdin with ``--key-stdin``), checks
it with the server (``GET /api/v1/key``: any valid key answers with its scopes, project and
organisation) and saves URL + key with mode 0600 (:mod:`wattprint.credentials`). It says what
the key may do: ``ingest`` for machines that send runs, ``read`` for ``runs --server``.

``push [RUN_ID | --all]`` sends stored runs (info, records, spans, summary: the wire objects
``wattprint export`` prints) through the http sink. Ingest is idempotent, so pushing twice is
harmless; ``<home>/pushed.json`` remembers which runs reached which server so ``--all`` sends
only the new ones (``--again`` sends them all). A run still going is pushed only when named.

``runs --server`` lists the runs the server holds (its ``GET /api/v1/runs``, same filters and
cursor pages), with the same login; the key needs the server's ``read`` scope.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, StoreError, WattprintError
from .common import EXIT_FAILURE, UsageError, print_json, reading_settings, say

if TYPE_CHECKING:
    import argparse
    from pathlib import Path

    from ..config import Config
    from ..sinks.http import HttpSink

__all__ = ["add_login", "add_push", "server_runs_page"]

PUSHED_FILE = "pushed.json"
_PAGE = 1000


def _help_text(paragraph: int) -> str:
    """A paragraph of the module docstring as --help shows it: without the reST markup."""
    import re

    text = __doc__.split("\n\n")[paragraph]
    return re.sub(r":\w+:`([^`]*)`|``([^`]*)``", lambda m: m.group(1) or m.group(2), text)


def add_login(sub: Any) -> None:
    login = sub.add_parser("login", help="save a team server's URL and API key (checked first)",
                           description=_help_text(1))
    login.add_argument("url", help="the server, e.g. https://wattprint.example.org")
    login.add_argument("--key-stdin", action="store_true",
                       help="read the API key from the first line of stdin (for scripts)")
    login.set_defaults(handler=cmd_login)


def add_push(sub: Any) -> None:
    push = sub.add_parser("push", help="upload stored runs to the team server",
                          description=_help_text(2))
    push.add_argument("run_id", nargs="?", help="run id or a unique prefix of it")
    push.add_argument("--all", action="store_true", help="every finished run not pushed yet")
    push.add_argument("--again", action="store_true",
                      help="with --all: also the runs already pushed to this server")
    push.add_argument("--json", action="store_true", help="print what was pushed as JSON")
    push.set_defaults(handler=cmd_push)


# -- login -----------------------------------------------------------------------------------
def _read_key(from_stdin: bool) -> str:
    if from_stdin:
        key = sys.stdin.readline().strip()
    else:
        import getpass

        key = getpass.getpass("API key (input hidden): ").strip()
    if not key:
        raise UsageError("no API key given")
    if not key.startswith("wp_"):
        raise UsageError("that is not a wattprint API key (they start with wp_); the server's "
                         "admin creates one for your project")
    return key


def cmd_login(args: argparse.Namespace) -> int:
    from ..config import KEYS
    from ..credentials import Credentials, save_credentials
    from ..sinks.http import require_httpx

    try:
        url = KEYS["server_url"].parse(args.url)
    except ValueError:
        raise UsageError(f"{args.url!r} is not a server URL: give http:// or https:// and the "
                         "host, e.g. https://wattprint.example.org")
    require_httpx()
    key = _read_key(args.key_stdin)
    try:
        described = _server_get(url, key, "/api/v1/key", {})
    except WattprintError as exc:
        say(f"the key was not saved: {exc}")
        return EXIT_FAILURE
    config = reading_settings()
    path = save_credentials(config.environ, Credentials(server_url=url, api_key=key))
    scopes = described.get("scopes") or []
    uses = {"ingest": "send runs", "read": "list runs with `wattprint runs --server`"}
    say(f"logged in to {url} as key wp_{described.get('prefix')}_... of project "
        f"{described.get('project', {}).get('name')!r} "
        f"({described.get('organisation', {}).get('name')!r}); it may "
        + (" and ".join(uses.get(scope, scope) for scope in scopes) or "do nothing")
        + f"; saved in {path} (readable by you only)")
    return 0


# -- push ------------------------------------------------------------------------------------
def _pushed_path(config: Config) -> Path:
    return config.store_path.parent / PUSHED_FILE


def _load_pushed(path: Path) -> dict[str, dict[str, float]]:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        say(f"warning: {path} is unreadable ({exc}); every run counts as not pushed (pushing "
            "again is harmless)")
        return {}
    return data if isinstance(data, dict) else {}


def _save_pushed(path: Path, pushed: dict[str, dict[str, float]]) -> None:
    import json
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temp.write_text(json.dumps(pushed, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temp, path)


def push_run(repo: Any, run_id: str, sink: HttpSink) -> int:
    """Send one stored run; returns how many items went. Raises on the first failure."""
    info = repo.info(run_id)
    sent = 0
    since = None
    while True:  # paged, as `wattprint export`: a week-long run in constant memory
        records = repo.records(run_id, since_seq=since, limit=_PAGE)
        if records:
            sink.export([info, *records])
            sent += len(records)
        if len(records) < _PAGE:
            break
        since = records[-1].seq
    spans = repo.spans(run_id)
    prediction = repo.prediction(run_id)
    predictions = [prediction] if prediction is not None else []
    summary = repo.summary(run_id)
    sink.export([info, *spans, *predictions, summary])  # the summary last, as a live run does
    return sent + len(spans) + len(predictions) + 2


def push_rescores(repo: Any, run_id: str, sink: HttpSink) -> int:
    """Send the run's local rescores (after its items: the server needs the run first); how many
    the server newly stored (it keeps one of each, so pushing again is harmless). Raises
    :class:`~wattprint.sinks.http.RescoreNotTaken` on a refusal."""
    stored = 0
    for rescore in repo.rescores_with_detail(run_id):
        stored += sink.send_rescore(run_id, rescore)
    return stored


def _rescored_since(repo: Any, run_id: str, pushed_s: float) -> bool:
    """Whether the run was rescored after its last push (then --all pushes it again)."""
    return any(r["created_s"] > pushed_s for r in repo.rescores(run_id))


def _selected(repo: Any, args: argparse.Namespace, done: dict[str, float]) -> list[str]:
    if args.run_id:
        return [repo.resolve_id(args.run_id)]
    from ..store.repository import RunFilter

    ids = []
    cursor = None
    while True:
        page = repo.runs(RunFilter(), limit=500, cursor=cursor)
        for row in page.items:
            if row.status == "running":
                continue  # its own http sink (if any) is still sending; name it to push it now
            if args.again or row.run_id not in done or _rescored_since(repo, row.run_id,
                                                                       done[row.run_id]):
                ids.append(row.run_id)
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


def cmd_push(args: argparse.Namespace) -> int:
    from ..sinks.http import HttpSink, RescoreNotTaken, server_login
    from ..store import open_repository

    if bool(args.run_id) == bool(args.all):
        raise UsageError("give one RUN_ID or --all")
    if args.again and not args.all:
        raise UsageError("--again goes with --all (a named run is always sent)")
    config = reading_settings()
    url, key = server_login(config)
    pushed_path = _pushed_path(config)
    pushed = _load_pushed(pushed_path)
    done = pushed.setdefault(url, {})
    repo = open_repository(config.store_path)
    sink = HttpSink(url, key)
    results: list[dict[str, Any]] = []
    failed = False
    try:
        for run_id in _selected(repo, args, done):
            try:
                items = push_run(repo, run_id, sink)
            except (WattprintError, OSError) as exc:
                if isinstance(exc, (StoreError, ConfigError)):
                    raise
                failed = True
                say(f"run {run_id[:8]} was not pushed: {exc}")
                results.append({"run_id": run_id, "pushed": False, "error": str(exc)})
                continue
            done[run_id] = time.time()
            _save_pushed(pushed_path, pushed)  # after each run: an interruption loses nothing
            result: dict[str, Any] = {"run_id": run_id, "pushed": True, "items": items}
            results.append(result)
            try:
                result["rescores_stored"] = push_rescores(repo, run_id, sink)
            except RescoreNotTaken as exc:
                # The run is there; an older server without the rescores route answers 404.
                # Said, not fatal; a refused body (400) is a failure to look at.
                failed = failed or exc.status != 404
                hint = " (a server older than rescores: upgrade it)" if exc.status == 404 else ""
                say(f"the rescores of run {run_id[:8]} were not pushed: {exc}{hint}")
                result["rescores_error"] = str(exc)
            except (WattprintError, OSError) as exc:
                if isinstance(exc, (StoreError, ConfigError)):
                    raise
                failed = True
                say(f"the rescores of run {run_id[:8]} were not pushed: {exc}")
                result["rescores_error"] = str(exc)
    finally:
        sink.close()
        repo.close()
    if args.json:
        print_json({"server_url": url, "runs": results})
    else:
        ok = [r for r in results if r["pushed"]]
        for r in ok:
            rescores = (f", {r['rescores_stored']} new rescores"
                        if r.get("rescores_stored") else "")
            print(f"{r['run_id'][:8]}  {r['items']} items{rescores} pushed to {url}")
        if not results:
            print(f"nothing to push to {url}")
    return EXIT_FAILURE if failed else 0


# -- runs --server ---------------------------------------------------------------------------
def server_runs_page(config: Config, selection: Any, *, limit: int,
                     cursor: str | None) -> tuple[str, dict[str, Any]]:
    """(server URL, one page ``{"runs": [...], "next_cursor": ...}``) of the server's runs.

    A refusal or an unreachable server is a :class:`WattprintError` saying what to do; the key
    is never in it.
    """
    from ..sinks.http import require_httpx, server_login

    require_httpx()
    url, key = server_login(config)
    params: dict[str, Any] = {"limit": limit}
    for name, value in (("project", selection.project), ("experiment", selection.experiment),
                        ("status", selection.status), ("host", selection.host),
                        ("job", selection.job_id), ("since", selection.since_s),
                        ("until", selection.until_s), ("cursor", cursor)):
        if value is not None:
            params[name] = value
    return url, _server_get(url, key, "/api/v1/runs", params, hint=(
        " (log in with a key that has the read scope: `wattprint login URL`)"))


def _server_get(url: str, key: str, path: str, params: dict[str, Any], *,
                hint: str = "") -> dict[str, Any]:
    """GET a server route with the key: its JSON object, else a :class:`WattprintError` saying
    what went wrong (``hint`` added on 401/403); the key is never in it."""
    import httpx

    try:
        response = httpx.get(f"{url}{path}", params=params,
                             headers={"Authorization": f"Bearer {key}"},
                             timeout=httpx.Timeout(10.0, connect=2.0))
    except httpx.HTTPError as exc:
        raise WattprintError(f"cannot reach {url}: {type(exc).__name__}; is the server up?") \
            from None
    if response.status_code != 200:
        try:
            message = response.json()["detail"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        raise WattprintError(f"{url} answered {response.status_code}: {message}"
                             + (hint if response.status_code in (401, 403) else ""))
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise WattprintError(f"{url}{path} did not answer a JSON object: is {url} a wattprint "
                             "server?")
    return answer
