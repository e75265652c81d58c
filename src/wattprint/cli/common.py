"""What every command shares: exit codes, usage errors, JSON output, settings, closed pipes.

Settings come in two strengths. Commands that measure (``run``, ``monitor``) or act on what a
run would use (``intensity``, ``rescore``, ``spool deliver``) load them strictly: a bad value
stops them with exit 2, as the tracker would. Commands that only read stored data load them
tolerantly: a bad ``WATTPRINT_*`` variable is named in a warning on stderr and ignored, since it
cannot change what is already stored.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from ..config import Config

EXIT_OK = 0
EXIT_FAILURE = 1  # something was reported as wrong: not found, a problem, an undelivered file
EXIT_USAGE = 2  # argparse's convention: bad flags, bad combinations, bad settings
# The reader of our output went away (`wattprint runs | head -1`): exit as a program stopped
# by SIGPIPE reports itself in a shell (128 + 13), like cat or grep would.
EXIT_CLOSED_PIPE = 141


class UsageError(Exception):
    """A bad flag or combination of flags: the command stops before doing anything (exit 2)."""


def say(message: str) -> None:
    """A line for people, on stderr (stdout is for data)."""
    print(f"wattprint: {message}", file=sys.stderr)


def print_json(data: Any, *, indent: int | None = 2) -> None:
    print(json.dumps(data, indent=indent, sort_keys=True, ensure_ascii=False, default=str))


def strict_settings(overrides: Mapping[str, Any] | None = None) -> Config:
    """Settings for commands whose result depends on them; a bad value raises ConfigError."""
    from ..config import load_config

    return load_config(overrides)


def reading_settings(overrides: Mapping[str, Any] | None = None) -> Config:
    """Settings for commands that only read stored data: a bad ``WATTPRINT_*`` variable is
    ignored with a warning that names it and says what to do."""
    from ..config import load_config_skipping_bad_env

    config, skipped = load_config_skipping_bad_env(overrides)
    for error in skipped:
        name = (error.source or "").removeprefix("environment ")
        say(f"warning: ignoring {error} Fix or unset {name} (`unset {name}`): `wattprint run` "
            "and `wattprint monitor` refuse to start with it.")
    return config


def quiet_closed_streams() -> None:
    """After a BrokenPipeError: point whichever of stdout/stderr is closed at /dev/null, so the
    interpreter's final flush does not print a second traceback."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ConnectionResetError):
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, stream.fileno())
                os.close(devnull)
            except (OSError, ValueError):  # not a real file (a test's capture): nothing to do
                pass
        except (OSError, ValueError):
            pass
