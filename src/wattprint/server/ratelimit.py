"""Login rate limit, kept in the database so every worker process counts the same failures.

At most ``ACCOUNT_FAILURES`` failed logins per account and ``ADDRESS_FAILURES`` per client
address within ``WINDOW_S``; past either, logins answer 429 (even with the right password)
until the oldest failure leaves the window. A success clears the account's failures.
The address is the ASGI client's: behind a reverse proxy, run uvicorn with ``--proxy-headers``
(and ``--forwarded-allow-ips``) or every login shares the proxy's address and its limit.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

__all__ = ["ACCOUNT_FAILURES", "ADDRESS_FAILURES", "WINDOW_S", "clear_account", "locked_out",
           "record_failure"]

WINDOW_S = 15 * 60.0
ACCOUNT_FAILURES = 5
ADDRESS_FAILURES = 20


def _subjects(email: str, address: str) -> tuple[str, str]:
    return f"account:{email}", f"ip:{address}"


def locked_out(connection: Connection, *, email: str, address: str, now_s: float) -> bool:
    from sqlalchemy import func, select

    from .models import LoginFailure

    since = now_s - WINDOW_S
    limits = (ACCOUNT_FAILURES, ADDRESS_FAILURES)
    for subject, limit in zip(_subjects(email, address), limits, strict=True):
        count = connection.execute(select(func.count()).select_from(LoginFailure).where(
            LoginFailure.subject == subject, LoginFailure.at_s > since)).scalar_one()
        if count >= limit:
            return True
    return False


def record_failure(connection: Connection, *, email: str, address: str, now_s: float) -> None:
    from sqlalchemy import delete, insert

    from .models import LoginFailure

    connection.execute(delete(LoginFailure).where(LoginFailure.at_s <= now_s - WINDOW_S))
    connection.execute(insert(LoginFailure), [{"subject": s, "at_s": now_s}
                                              for s in _subjects(email, address)])


def clear_account(connection: Connection, *, email: str) -> None:
    from sqlalchemy import delete

    from .models import LoginFailure

    connection.execute(delete(LoginFailure).where(LoginFailure.subject == f"account:{email}"))
