"""Run a command on a real pseudo-terminal (POSIX) and read all it writes there, for the tests
of what wattprint draws when stderr is a terminal (the live status line)."""

from __future__ import annotations

import os
import subprocess


def run_on_a_terminal(argv: list[str], *, env: dict[str, str] | None = None,
                      timeout_s: float = 60.0) -> tuple[int, str]:
    """(exit code, everything written to the terminal) of ``argv`` with stdin, stdout and stderr
    on one pseudo-terminal."""
    import pty

    leader, follower = pty.openpty()
    proc = subprocess.Popen(argv, stdin=follower, stdout=follower, stderr=follower,
                            close_fds=True, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # the terminal closes when the last writer exits
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=timeout_s)
    os.close(leader)
    return proc.returncode, b"".join(chunks).decode(errors="replace")
