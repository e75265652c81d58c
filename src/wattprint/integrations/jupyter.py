"""Jupyter / IPython: ``%load_ext wattprint``, then a ``%%wattprint`` cell magic and a
``%wattprint`` line magic that show a compact summary under the cell.

    %load_ext wattprint

    %%wattprint --project bert --tag lr=3e-5
    model.fit(...)                     # the cell is one run; its summary shows under it

    %wattprint sum(x * x for x in range(10**7))   # one statement, like %time
    %wattprint start --project bert    # a session: one run over many cells ...
    %wattprint status                  # ... its figures so far
    %wattprint stop                    # ... ends it and shows its summary
    %wattprint summary                 # the last run's full summary (as `wattprint show`)

Options (on the magic's line, before any statement): ``--project NAME``, ``--experiment NAME``,
``--country CODE``, ``--tag KEY=VALUE`` (repeatable) and ``--quiet`` (show nothing; the summary
is still stored and kept in :func:`last_summary`). During a session, ``%%wattprint`` and
``%wattprint STATEMENT`` measure a span ``cell-N`` of the session's run instead of a run of their
own (two runs at once would count the machine's energy twice).

The summary is rich HTML in notebooks (``_repr_html_``) and text in terminals. A cell that
raises still shows its summary (status ``failed``, or ``interrupted`` for Ctrl-C / a kernel
interrupt) and the exception then goes on untouched, with the cell's own traceback. Tracking
never breaks a cell: a tracker that cannot be made or stopped is said in one line under the
cell, which runs anyway. Like ``%%time``, a cell's last expression is its value (``Out[N]``),
shown after the summary.

IPython is imported only by IPython itself: this module uses the shell it is given.
"""

from __future__ import annotations

import ast
import html
import re
import shlex

from .._log import get_logger

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..records import RunSummary
    from ..tracker import Tracker

__all__ = ["CellSummary", "MagicOptions", "WattprintMagics", "last_summary",
           "load_ipython_extension", "parse_options", "register", "unload_ipython_extension"]

log = get_logger("wattprint.integrations")

MAGIC_NAME = "wattprint"
COMMANDS = ("start", "stop", "status", "summary")
USAGE = ("%%wattprint [--project NAME] [--experiment NAME] [--country CODE] [--tag KEY=VALUE]... "
         "[--quiet]; %wattprint [options] STATEMENT | start [options] | stop | status | summary")

#: A warning's length in the text view (a terminal line or two); the HTML shows them whole.
WARNING_CHARS = 160
#: An intensity source's length in the compact view (the full summary has it whole).
SOURCE_CHARS = 60

_VALUED = ("project", "experiment", "country", "tag")
_OPTION = re.compile(r"\s*(--(?=\s|$)|--?[A-Za-z][\w-]*(?=\s|=|$))")
_VALUE = re.compile(r"""(?:=|\s+)((?:"[^"]*"|'[^']*'|[^\s"']+)+)""")


# A measured cell runs as plain code, inside the kernel's own event loop: it cannot await.
AWAIT_HINT = ("'await' outside function: a cell under %%wattprint cannot await; measure it "
              "in a session instead (%wattprint start, the cell without the magic, "
              "%wattprint stop)")

HELP = f"""Measure the energy and emissions of a cell, a statement or a session of cells.

%%wattprint [options]            the cell below is one run; its summary shows under it
%wattprint [options] STATEMENT   one statement, the same way
%wattprint start [options]       a session: one run over the cells that follow ...
%wattprint status                ... its figures so far
%wattprint stop                  ... its end and summary
%wattprint summary               the last run's full summary

During a session, a measured cell or statement is a span cell-N of the session's run.
Options: --project NAME, --experiment NAME, --country CODE, --tag KEY=VALUE (repeatable),
--quiet (show nothing; the run is still stored).

Usage: {USAGE}
"""


class MagicUsageError(ValueError):
    """A magic line that cannot be read; the message says what to write instead."""


class MagicOptions:
    """What a magic's line asks for: tracker settings, tags, quiet, and the rest of the line."""

    def __init__(self) -> None:
        self.settings: dict[str, str] = {}
        self.tags: dict[str, str] = {}
        self.quiet = False
        self.rest = ""
        self.ended = False  # a "--" ended the options: the rest is a statement, never a command


def parse_options(line: str) -> MagicOptions:
    """Read the options at the start of ``line``; what follows them (a statement or a command)
    is ``rest``. ``--`` ends the options. A value with spaces is quoted."""
    options = MagicOptions()
    pos = 0
    while True:
        match = _OPTION.match(line, pos)
        if match is None:
            break
        flag, pos = match.group(1), match.end()
        if flag == "--":
            options.ended = True
            break
        name = flag.lstrip("-").replace("-", "_")
        if flag in ("-q", "--quiet"):
            options.quiet = True
            continue
        if name not in _VALUED or not flag.startswith("--"):
            raise MagicUsageError(f"%wattprint: unknown option {flag!r}; usage: {USAGE}")
        value_match = _VALUE.match(line, pos)
        if value_match is None:
            raise MagicUsageError(f"%wattprint: {flag} needs a value; usage: {USAGE}")
        value, pos = "".join(shlex.split(value_match.group(1))), value_match.end()
        if name == "tag":
            key, sep, tag_value = value.partition("=")
            if not sep or not key:
                raise MagicUsageError(f"%wattprint: --tag takes KEY=VALUE, not {value!r}")
            options.tags[key] = tag_value
        else:
            options.settings[name] = value
    options.rest = line[pos:].strip()
    return options


# -- the summary under a cell ---------------------------------------------------------------
class CellSummary:
    """A run's summary (or, during a session, a span's figures) as shown under a cell: text for
    terminals (``repr``), HTML for notebooks (``_repr_html_``). Every string from the user or
    the run is escaped in the HTML."""

    def __init__(self, summary: RunSummary | None = None, *, span: Any = None,
                 session_run_id: str = "", problem: str = "") -> None:
        self.summary = summary
        self.span = span
        self.session_run_id = session_run_id
        self.problem = problem

    # the figures, as (headline fields, details, warnings); the first field names the run
    def _parts(self) -> tuple[list[str], str, list[str]]:
        from ..report import format_duration, format_energy, format_intensity, format_mass

        if self.problem:
            return [f"wattprint: not measured ({self.problem})"], "", []
        if self.span is not None:
            span = self.span
            head = [f"wattprint {span.name}", format_duration(span.duration_s),
                    format_energy(span.energy_j), f"{format_mass(span.emissions_g)} CO2e"]
            return head, f"a span of the session's run {self.session_run_id[:8]}", []
        summary = self.summary
        assert summary is not None
        total = summary.energy_j.get("total", 0.0)
        head = [f"wattprint {summary.run_id[:8]} {summary.project}/{summary.experiment}",
                format_duration(summary.duration_s), format_energy(total),
                f"{format_mass(summary.emissions_g)} CO2e", f"[{summary.status}]"]
        intensity = summary.intensity or {}
        if intensity.get("kind") is None:
            where = "no intensity: emissions not counted"
        else:  # the source in full: the full summary (HTML details, %wattprint summary)
            from ..intensity.figures import split_source

            year = intensity.get("year")
            source, _ = split_source(str(intensity.get("source", "")))
            where = (f"{format_intensity(intensity.get('g_per_kwh'), intensity.get('kind'))} "
                     f"{intensity.get('zone', '')} ({_cut(source, SOURCE_CHARS)}"
                     f"{f', {year}' if year else ''})")
        methods = sorted({f"{c['component']} {c['method']}" for c in summary.components})
        details = f"{where}; pue {summary.pue:g}; {', '.join(methods) or 'no devices'}"
        warnings = [*summary.warnings, *(f"gap: {gap}" for gap in summary.gaps)]
        return head, details, warnings

    def text(self) -> str:
        """A few lines: the figures, how they were had, and each warning cut to one line
        (``%wattprint summary`` shows them whole)."""
        head, details, warnings = self._parts()
        lines = ["  ".join(head), *([f"  {details}"] if details else []),
                 *(f"  ! {_cut(w)}" for w in warnings)]
        if any(len(w) > WARNING_CHARS for w in warnings):
            lines.append("  (%wattprint summary shows them whole)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        from ..report import format_summary

        head, details, warnings = self._parts()
        esc = html.escape
        out = [f'<div class="wattprint-summary"><strong>{esc(head[0])}</strong>'
               + "".join(f" &middot; {esc(field)}" for field in head[1:])]
        if details:
            out.append(f"<br><small>{esc(details)}</small>")
        if warnings:
            out.append('<ul style="margin:0.2em 0;font-size:smaller">'
                       + "".join(f"<li>&#9888; {esc(w)}</li>" for w in warnings) + "</ul>")
        if self.summary is not None:
            out.append(f"<details><summary>full summary</summary><pre>"
                       f"{esc(format_summary(self.summary))}</pre></details>")
        out.append("</div>")
        return "".join(out)


def _cut(text: str, limit: int = WARNING_CHARS) -> str:
    return text if len(text) <= limit else text[:limit - 3].rstrip() + "..."


# -- the magics ------------------------------------------------------------------------------
class WattprintMagics:
    """The ``wattprint`` line and cell magic of one shell. ``tracker_settings``: the
    :class:`~wattprint.Tracker` keywords every run gets (the options override them)."""

    def __init__(self, shell: Any, **tracker_settings: Any) -> None:
        self.__doc__ = HELP  # what %wattprint? shows
        self.shell = shell
        self.tracker_settings = tracker_settings
        self.session: Tracker | None = None
        self.last_summary: RunSummary | None = None

    def __call__(self, line: str, cell: str | None = None) -> Any:
        __tracebackhide__ = True
        try:
            options = parse_options(line)
        except MagicUsageError as exc:
            raise self._usage_error(str(exc)) from None
        if cell is not None:
            if options.rest:
                raise self._usage_error(f"%%wattprint: {options.rest!r} is not an option; the "
                                        f"code goes in the cell below the line. Usage: {USAGE}")
            return self.measure(cell, options, magic_line=f"%%{MAGIC_NAME} {line}".rstrip())
        command, _, after = options.rest.partition(" ")
        if command in COMMANDS and not options.ended:  # options may follow: start --project x
            try:
                more = parse_options(after)
            except MagicUsageError as exc:
                raise self._usage_error(str(exc)) from None
            if more.rest:
                raise self._usage_error(f"%wattprint {command}: {more.rest!r} is not an "
                                        f"option; usage: {USAGE}")
            more.settings = {**options.settings, **more.settings}
            more.tags = {**options.tags, **more.tags}
            more.quiet = more.quiet or options.quiet
            return getattr(self, command)(more)
        command = options.rest
        if not command:
            raise self._usage_error(f"%wattprint needs a statement or a command; usage: {USAGE}")
        return self.measure(command, options)

    def _usage_error(self, message: str) -> Exception:
        from IPython.core.error import UsageError

        return UsageError(message)

    # -- commands ---------------------------------------------------------------------------
    def start(self, options: MagicOptions) -> None:
        if self.session is not None:
            raise self._usage_error(f"%wattprint: a session (run {self.session.run_id[:8]}) is "
                                    "running; %wattprint stop ends it")
        tracker, problem = self._tracker(options)
        if tracker is None:
            self._show(CellSummary(problem=problem), options)
            return
        tracker.start()
        self.session = tracker
        if not options.quiet:
            print(f"wattprint: session run {tracker.run_id[:8]} started; %wattprint stop ends it")

    def stop(self, options: MagicOptions) -> None:
        session, self.session = self.session, None
        if session is None:
            raise self._usage_error("%wattprint: no session is running; %wattprint start "
                                    "begins one")
        self._finish(session, "finished", options)

    def status(self, options: MagicOptions) -> None:
        from ..report import format_duration, format_energy, format_mass

        if self.session is None:
            print("wattprint: no session is running (%wattprint start begins one)")
            return
        snap = self.session.snapshot()
        print(f"wattprint session {self.session.run_id[:8]}  {format_duration(snap.elapsed_s)}  "
              f"{snap.power_w:.1f} W  {format_energy(snap.energy_j)}  "
              f"{format_mass(snap.emissions_g)} CO2e so far")

    def summary(self, options: MagicOptions) -> None:
        from ..report import format_summary

        if self.last_summary is None:
            print("wattprint: no run has ended yet in this kernel")
        else:
            print(format_summary(self.last_summary))

    # -- measuring a cell -------------------------------------------------------------------
    def measure(self, code: str, options: MagicOptions, magic_line: str | None = None) -> Any:
        """Run ``code`` in the user's namespace as one run (or a span of the session), show
        its summary, and return the value of its last expression. The code is parsed first:
        a syntax error is raised before anything is measured. ``magic_line``: the cell
        magic's line, above the code in the cell (so tracebacks count the cell's lines)."""
        __tracebackhide__ = True  # IPython leaves this frame out of the cell's traceback
        compiled = _compile(self.shell, code, magic_line)
        session = self.session
        span: Any = None
        tracker: Tracker | None = None
        problem = ""
        if session is not None:
            if options.settings or options.tags:
                log.warning("wattprint: the options of a cell are ignored during a session "
                            "(its run has its own)")
            span = _guarded_span(session, f"cell-{_cell_number(self.shell)}")
        else:
            tracker, problem = self._tracker(options)
            if tracker is not None:
                tracker.start()  # never raises: a tracker that cannot start runs inert
        status = "finished"
        try:
            return _run(self.shell, compiled)
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        except BaseException:
            status = "failed"
            raise
        finally:  # never masks the cell's exception: both branches are guarded
            if span is not None:
                self._finish_span(span, options)
            elif tracker is not None:
                self._finish(tracker, status, options)
            elif session is None:
                self._show(CellSummary(problem=problem), options)

    def _tracker(self, options: MagicOptions) -> tuple[Tracker | None, str]:
        try:
            from ..tracker import Tracker

            settings = {**self.tracker_settings, **options.settings}
            if options.tags:
                settings["tags"] = {**settings.get("tags", {}), **options.tags}
            return Tracker(**settings), ""
        except Exception as exc:  # a bad setting: the cell runs untracked, and says why
            log.warning("wattprint: the cell runs untracked: %s", exc)
            return None, str(exc)

    def _finish(self, tracker: Tracker, status: str, options: MagicOptions) -> None:
        try:
            summary = tracker.stop(status=status)
        except Exception as exc:
            log.warning("wattprint: stopping the tracker failed (%r)", exc)
            self._show(CellSummary(problem=f"stopping the tracker failed: {exc!r}"), options)
            return
        self.last_summary = summary
        self._show(CellSummary(summary), options)

    def _finish_span(self, span: Any, options: MagicOptions) -> None:
        try:
            span.__exit__(None, None, None)
            view = CellSummary(span=span, session_run_id=self.session.run_id
                               if self.session is not None else "")
            view.text()  # reads (settles) the span's figures here, inside the guard
        except Exception as exc:
            log.warning("wattprint: the cell's span failed (%r)", exc)
            view = CellSummary(problem=f"the cell's span failed: {exc!r}")
        self._show(view, options)

    def _show(self, view: CellSummary, options: MagicOptions) -> None:
        if options.quiet and not view.problem:
            return
        try:
            import importlib

            display: Any = importlib.import_module("IPython.display").display
            display(view)
        except Exception as exc:  # showing is never worth breaking the cell
            log.warning("wattprint: could not show the summary (%r)", exc)


def _guarded_span(tracker: Tracker, name: str) -> Any:
    try:
        return tracker.span(name).__enter__()
    except Exception as exc:
        log.warning("wattprint: the cell's span could not open (%r)", exc)
        return None


def _cell_number(shell: Any) -> int:
    """The number of the cell running now (``In [N]``). IPython 9 counts the cell before
    running it and IPython 8 after, but both store its input first."""
    inputs = getattr(getattr(shell, "history_manager", None), "input_hist_raw", None)
    return len(inputs) - 1 if inputs else int(shell.execution_count)


def _compile(shell: Any, code: str, magic_line: str | None) -> tuple[Any, Any]:
    """The cell as IPython would run it (its own magics and ``!`` lines transformed, its AST
    transformers applied): the code before the last expression, and that expression (or None).
    The source goes into the line cache under the cell's number (with the magic's line above
    it), so tracebacks show the cell's own lines, numbered as in the notebook."""
    source = shell.transform_cell(code)
    if magic_line is not None:  # a blank line in its place keeps the line numbers
        filename = shell.compile.cache(f"{magic_line}\n{source}", _cell_number(shell))
        source = f"\n{source}"
    else:
        filename = shell.compile.cache(source, _cell_number(shell))
    try:
        tree = shell.transform_ast(shell.compile.ast_parse(source, filename))
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        body = shell.compile(tree, filename, "exec")
        return body, (shell.compile(last, filename, "eval") if last is not None else None)
    except SyntaxError as exc:  # the cell's mistake, pointing into the cell, not our frames
        if exc.msg == "'await' outside function":
            exc.msg = AWAIT_HINT
        raise exc.with_traceback(None) from None


def _run(shell: Any, compiled: tuple[Any, Any]) -> Any:
    __tracebackhide__ = True
    body, last = compiled
    exec(body, shell.user_ns)
    return eval(last, shell.user_ns) if last is not None else None


# -- the extension -----------------------------------------------------------------------------
_registered: dict[int, WattprintMagics] = {}


def register(shell: Any, **tracker_settings: Any) -> WattprintMagics:
    """Add the ``wattprint`` magics to ``shell``; ``tracker_settings`` go to every run's
    :class:`~wattprint.Tracker` (injected sensors, clocks, sinks ... in tests)."""
    magics = WattprintMagics(shell, **tracker_settings)
    shell.register_magic_function(magics, magic_kind="line_cell", magic_name=MAGIC_NAME)
    _registered[id(shell)] = magics
    return magics


def load_ipython_extension(shell: Any) -> None:
    """``%load_ext wattprint`` (or ``wattprint.integrations.jupyter``)."""
    register(shell)


def unload_ipython_extension(shell: Any) -> None:
    """``%unload_ext wattprint``: a running session ends (finished) and shows its summary."""
    magics = _registered.pop(id(shell), None)
    if magics is not None and magics.session is not None:
        magics.stop(MagicOptions())
    for kind in ("line", "cell"):
        shell.magics_manager.magics[kind].pop(MAGIC_NAME, None)


def last_summary(shell: Any = None) -> RunSummary | None:
    """The summary of the last run a ``wattprint`` magic ended (in ``shell``, default the
    running one)."""
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
    magics = _registered.get(id(shell))
    return magics.last_summary if magics is not None else None
