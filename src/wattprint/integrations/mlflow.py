"""MLflow: a run's energy, emissions and intensity as metrics of an MLflow run, and where the
figures came from as its tags (``pip install 'wattprint[mlflow]'``; mlflow-skinny suffices).

Two ways in:

- the ``mlflow`` sink (``sinks = ["sqlite", "mlflow"]``) logs to the MLflow run that is active
  when the tracker is made: each record as a step of the running totals (``wattprint/energy_j``,
  ``wattprint/emissions_g``, per component, power and intensity), then the summary's totals
  and the provenance tags when the run stops;
- :func:`log_summary` logs a finished run's summary to the active (or a given) MLflow run.

The sink works from the exporter's thread, where MLflow's active run (kept per thread) is not
visible, so it notes the run's id when it is made and writes through an ``MlflowClient``. A
record or summary exported twice (a retry) logs the same values at the same step: MLflow keeps
both points, equal. Units are in every metric name (J, g, W, g/kWh, s), SI as everywhere in
wattprint; tags say how each component was obtained, the intensity's source, zone and year,
the location, the PUE and its source, and the warnings, so nothing logged passes for more
than it is.
"""

from __future__ import annotations

from . import require

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping, Sequence

    from ..config import Config
    from ..records import Record, RunSummary
    from ..wire import Item

__all__ = ["MlflowSink", "from_config", "log_summary", "summary_metrics", "summary_tags"]

PREFIX = "wattprint/"
_TAG_MAX = 5000  # MLflow's limit on a tag value (older servers)


def _mlflow() -> Any:
    return require("mlflow", integration="MLflow", extra="mlflow")


def summary_metrics(summary: RunSummary) -> dict[str, float]:
    """The run's totals as MLflow metrics (SI units in the names)."""
    metrics = {f"{PREFIX}{c}_energy_j": float(summary.energy_j.get(c, 0.0))
               for c in ("cpu", "gpu", "ram", "other")}
    metrics[f"{PREFIX}energy_j"] = float(summary.energy_j.get("total", 0.0))
    metrics[f"{PREFIX}emissions_g"] = float(summary.emissions_g)
    metrics[f"{PREFIX}duration_s"] = float(summary.duration_s)
    metrics[f"{PREFIX}pue"] = float(summary.pue)
    g_per_kwh = summary.intensity.get("g_per_kwh")
    if g_per_kwh is not None:  # none when no interval had an intensity, or kinds were mixed
        metrics[f"{PREFIX}intensity_g_per_kwh"] = float(g_per_kwh)
    if summary.embodied_g is not None:
        metrics[f"{PREFIX}embodied_g"] = float(summary.embodied_g)
    return metrics


def summary_tags(summary: RunSummary) -> dict[str, str]:
    """Where each figure came from, as MLflow tags."""
    intensity = summary.intensity
    location = summary.location
    methods = sorted({f"{c.get('device')}: {c.get('method')}" for c in summary.components})
    where = ", ".join(str(location[k]) for k in ("country", "subdivision", "cloud",
                                                  "cloud_region") if location.get(k))
    tags = {
        "wattprint.run_id": summary.run_id,
        "wattprint.status": summary.status,
        "wattprint.methods": "; ".join(methods) or "no device",
        "wattprint.intensity_source": str(intensity.get("source", "")),
        "wattprint.intensity_zone": str(intensity.get("zone", "")),
        "wattprint.intensity_year": "" if intensity.get("year") is None
        else str(intensity["year"]),
        "wattprint.intensity_kind": str(intensity.get("kind") or ""),
        "wattprint.intensity_live": str(bool(intensity.get("live"))).lower(),
        "wattprint.location": f"{where or 'unknown'} ({location.get('resolved_by', '')}: "
                              f"{location.get('detail', '')})",
        "wattprint.pue_source": summary.pue_source,
        "wattprint.scope": summary.scope,
        "wattprint.warnings": " | ".join(summary.warnings) or "none",
    }
    return {k: v[:_TAG_MAX] for k, v in tags.items()}


def log_summary(summary: RunSummary, *, run_id: str | None = None) -> str:
    """Log ``summary`` to MLflow run ``run_id`` (default: the active one); returns its id."""
    mlflow = _mlflow()
    if run_id is None:
        active = mlflow.active_run()
        if active is None:
            raise RuntimeError("no active MLflow run: call log_summary inside "
                               "`with mlflow.start_run():`, or give run_id=")
        run_id = active.info.run_id
    client = mlflow.MlflowClient()
    _log(client, run_id, summary_metrics(summary), summary_tags(summary),
         step=summary.records, timestamp_ms=_ms(summary.started_s + summary.duration_s))
    return str(run_id)


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


def _log(client: Any, run_id: str, metrics: Mapping[str, float],
         tags: Mapping[str, str], *, step: int, timestamp_ms: int) -> None:
    from mlflow.entities import Metric, RunTag

    client.log_batch(run_id,
                     metrics=[Metric(k, v, timestamp_ms, step) for k, v in metrics.items()],
                     tags=[RunTag(k, v) for k, v in tags.items()])


class MlflowSink:
    """Logs a tracker's records and summary to one MLflow run (see the module docstring)."""

    name = "mlflow"

    def __init__(self, run_id: str, *, tracking_uri: str | None = None) -> None:
        self.run_id = run_id
        self._client = _mlflow().MlflowClient(tracking_uri=tracking_uri)
        self._totals: dict[str, dict[str, float]] = {}  # wattprint run -> running sums
        self._seen: set[tuple[str, int]] = set()

    def export(self, batch: Sequence[Item]) -> None:
        from ..records import Record, RunSummary

        for item in batch:
            if isinstance(item, Record):
                self._record(item)
            elif isinstance(item, RunSummary):
                _log(self._client, self.run_id, summary_metrics(item),
                     summary_tags(item), step=item.records,
                     timestamp_ms=_ms(item.started_s + item.duration_s))

    def _record(self, record: Record) -> None:
        key = (record.run_id, record.seq)
        if key in self._seen:  # a retried batch: its points are already logged
            return
        self._seen.add(key)
        sums = self._totals.setdefault(record.run_id, dict.fromkeys(
            ("energy_j", "cpu_energy_j", "gpu_energy_j", "ram_energy_j", "other_energy_j",
             "emissions_g"), 0.0))
        for name in sums:
            sums[name] += float(getattr(record, name))
        metrics = {f"{PREFIX}{k}": v for k, v in sums.items()}
        if record.duration_s > 0:  # the last record, cut at stop, may have no time
            metrics[f"{PREFIX}power_w"] = record.energy_j / record.duration_s
        if record.scored:
            metrics[f"{PREFIX}intensity_g_per_kwh"] = record.intensity_g_per_kwh
        _log(self._client, self.run_id, metrics, {}, step=record.seq + 1,
             timestamp_ms=_ms(record.start_s + record.duration_s))

    def close(self) -> None:
        pass  # the client holds nothing open


def from_config(config: Config) -> MlflowSink:
    from ..errors import ConfigError

    mlflow = _mlflow()
    active = mlflow.active_run()
    if active is None:
        raise ConfigError("the mlflow sink logs to the active MLflow run, and there is none: "
                          "make the tracker inside `with mlflow.start_run():`", key="sinks")
    return MlflowSink(active.info.run_id, tracking_uri=mlflow.get_tracking_uri())
