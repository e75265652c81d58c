"""Pushgateway: a batch job's totals pushed to a Prometheus Pushgateway (extra ``prometheus``).

The same metrics as :mod:`wattprint.sinks.prometheus`, pushed with ``PUT`` to the group of
job ``pushgateway_job``, ``project``, ``experiment`` and ``instance`` (the host), i.e.
``<pushgateway_url>/metrics/job/<job>/experiment/<e>/instance/<host>/project/<p>`` (PUT
replaces the group's metrics, so the group always holds one run's totals so far): at the
first batch, then whenever ``pushgateway_every_s`` has passed at a batch, and at close. The
pushes run on the exporter's thread, never the host's, each bounded by ``timeout_s``.

A gateway that is down, slow or answers an error never hurts the host program and never
fails the batch (the records are already counted; the next push carries the totals so far):
the first failure of a streak is logged as a warning with the fix, later ones at debug level,
and the recovery at info level. The last push, at close, is tried once; if it fails, the run's
summary says so in its warnings (``problem``, read by the exporter at close).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, Sequence

from .._log import get_logger
from ._totals import RunTotals
from .prometheus import private_registry

if TYPE_CHECKING:
    from ..config import Config
    from ..wire import Item

__all__ = ["PushgatewaySink", "from_config"]

log = get_logger(__name__)


class PushgatewaySink:
    name = "pushgateway"

    def __init__(self, url: str, *, job: str = "wattprint", every_s: float = 30.0,
                 timeout_s: float = 5.0, run_id_label: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url.rstrip("/")
        self.job = job
        self._every_s = every_s
        self._timeout_s = timeout_s
        self._clock = clock
        self.totals = RunTotals()
        self.registry = private_registry(self.totals, run_id_label=run_id_label)
        self._last_push_s: float | None = None
        self._failing = False
        self.pushes = 0  # successful pushes
        self.failures = 0
        #: what went wrong with the last push, None once one succeeds (the exporter puts it in
        #: the run's warnings at close)
        self.problem: str | None = None

    def export(self, batch: Sequence[Item]) -> None:
        self.totals.add(batch)
        now = self._clock()
        if self._last_push_s is None or now - self._last_push_s >= self._every_s:
            self._last_push_s = now  # a failed push waits its turn too: no hammering
            self._push()

    def close(self) -> None:
        self._push()

    def grouping_key(self) -> dict[str, str]:
        snap = self.totals.snapshot()
        return {"project": snap.project, "experiment": snap.experiment, "instance": snap.host}

    def _push(self) -> bool:
        from prometheus_client import push_to_gateway

        if self.totals.snapshot().run_id is None:
            return False  # nothing to say yet
        try:
            push_to_gateway(self.url, job=self.job, registry=self.registry,
                            grouping_key=self.grouping_key(), timeout=self._timeout_s)
        except Exception as exc:  # noqa: BLE001 - down, slow, refused: never the host's problem
            self.failures += 1
            self.problem = (f"the last push to {self.url} failed ({_reason(exc)}); {self.failures}"
                            f" of {self.failures + self.pushes} pushes failed, so the gateway "
                            "holds older totals of this run, or none")
            if not self._failing:
                log.warning("pushgateway %s: push failed (%s); the totals are kept and pushed "
                            "again in %g s and at the end of the run. Check pushgateway_url "
                            "and that the gateway is up.", self.url, _reason(exc), self._every_s)
            else:
                log.debug("pushgateway %s: push failed again (%s)", self.url, _reason(exc))
            self._failing = True
            return False
        if self._failing:
            log.info("pushgateway %s: pushing again after %d failed pushes", self.url,
                     self.failures)
        self._failing = False
        self.problem = None
        self.pushes += 1
        return True


def _reason(exc: BaseException) -> str:
    reason: Any = getattr(exc, "reason", None)  # urllib's URLError wraps the socket error
    return f"{type(exc).__name__}: {reason if reason is not None else exc}"


def from_config(config: Config) -> PushgatewaySink:
    from ..errors import ConfigError

    if not config.pushgateway_url:
        raise ConfigError("the pushgateway sink needs pushgateway_url (e.g. "
                          "WATTPRINT_PUSHGATEWAY_URL=http://localhost:9091)",
                          key="pushgateway_url")
    return PushgatewaySink(config.pushgateway_url, job=config.pushgateway_job,
                           every_s=config.pushgateway_every_s,
                           run_id_label=config.prometheus_run_id_label)
