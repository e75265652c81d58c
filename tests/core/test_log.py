"""Lazy loggers: nothing imported while no handler could show a message; normal logging after."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from wattprint._log import get_logger


def test_messages_reach_logging_once_it_is_loaded(caplog: pytest.LogCaptureFixture) -> None:
    log = get_logger("wattprint.test")
    log.set_level("debug")
    with caplog.at_level(logging.DEBUG, logger="wattprint.test"):
        log.debug("d %s", 1)
        log.warning("w %s", 2)
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [("DEBUG", "d 1"),
                                                                      ("WARNING", "w 2")]
    assert logging.getLogger("wattprint.test").level == logging.DEBUG
    assert any(isinstance(h, logging.NullHandler) for h in logging.getLogger("wattprint").handlers)


def test_nothing_is_imported_while_the_program_does_not_use_logging() -> None:
    code = ("import sys\nfrom wattprint._log import get_logger\n"
            "log = get_logger('wattprint.x'); log.set_level('debug')\n"
            "log.warning('lost, as it would be with only a NullHandler'); log.error('e')\n"
            "print('logging' in sys.modules)\n"
            "import logging; logging.basicConfig(format='%(levelname)s %(message)s')\n"
            "log.warning('shown %s', 3)\n"
            "print(logging.getLogger('wattprint.x').level)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["False", str(logging.DEBUG)]
    assert done.stderr.strip() == "WARNING shown 3"
