"""Loggers that cost nothing until there is something to say.

:mod:`logging` (with ``traceback``, ``string`` and ``threading``) is about a tenth of the
tracker's import time on a small VM. The ``wattprint`` logger carries only a ``NullHandler`` (a
library leaves the choice of output to the program), so while nothing has imported
:mod:`logging`, no handler exists that could show a message: a :class:`LazyLogger` then drops
it without importing anything, which changes no output. Once the host program imports
:mod:`logging` (to configure handlers, or because a library did), every message goes through
it as usual. What a user must see never depends on logging: warnings and gaps are in the
record, the summary and ``wattprint doctor``.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging

__all__ = ["LazyLogger", "get_logger"]


class LazyLogger:
    __slots__ = ("name", "_logger", "_level")

    def __init__(self, name: str) -> None:
        self.name = name
        self._logger: logging.Logger | None = None
        self._level: str | None = None

    @property
    def logger(self) -> logging.Logger:
        if self._logger is None:
            import logging

            self._logger = logging.getLogger(self.name)
            if self._level is not None:
                self._logger.setLevel(self._level)
            root = logging.getLogger("wattprint")
            if not any(isinstance(h, logging.NullHandler) for h in root.handlers):
                # A library adds only a NullHandler: where messages go is the host's choice.
                root.addHandler(logging.NullHandler())
        return self._logger

    def _quiet(self) -> bool:
        return self._logger is None and "logging" not in sys.modules

    def debug(self, message: str, *args: object) -> None:
        if not self._quiet():
            self.logger.debug(message, *args)

    def info(self, message: str, *args: object) -> None:
        if not self._quiet():
            self.logger.info(message, *args)

    def warning(self, message: str, *args: object) -> None:
        if not self._quiet():
            self.logger.warning(message, *args)

    def error(self, message: str, *args: object) -> None:
        if not self._quiet():
            self.logger.error(message, *args)

    def exception(self, message: str, *args: object) -> None:
        if not self._quiet():
            self.logger.exception(message, *args)

    def set_level(self, level: str) -> None:
        """Set the level by name (applied now if logging is loaded, else when it is)."""
        self._level = level.upper()
        if not self._quiet():
            self.logger.setLevel(self._level)


def get_logger(name: str) -> LazyLogger:
    return LazyLogger(name)
