"""Settings: the ONLY module that reads ``os.environ`` and config files.

Precedence, highest first: explicit arguments > ``WATTPRINT_*`` environment variables >
``./wattprint.toml`` (top-level keys) or ``[tool.wattprint]`` in ``./pyproject.toml`` > the user
config file (``$WATTPRINT_CONFIG`` or ``$XDG_CONFIG_HOME/wattprint/config.toml``) > defaults.

Every key is declared once in :data:`KEYS` with its parser and help; an unknown key or a bad
value raises :class:`~wattprint.errors.ConfigError` naming the key, the value, where it came
from and what is allowed. :class:`Config` remembers where each value came from (``doctor``
prints it).
"""

from __future__ import annotations

import os
import sys

from ._struct import dataclass, field, fields, replace
from .errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, Callable, Mapping

__all__ = ["KEYS", "Config", "Key", "load_config", "load_config_skipping_bad_env",
           "default_home"]

ENV_PREFIX = "WATTPRINT_"
# Environment variables that are not config keys but point at where config lives.
_ENV_META = {"WATTPRINT_CONFIG"}


@dataclass(frozen=True, slots=True)
class Key:
    name: str
    parse: Callable[[Any], Any]
    allowed: str  # what the error message says is allowed
    help: str


def _text(value: Any) -> str:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValueError
    text = str(value).strip()
    if not text:
        raise ValueError
    return text


def _optional_text(value: Any) -> str | None:
    return None if value is None or value == "" else _text(value)


def _number(lo: float, hi: float, *, optional: bool = False) -> Callable[[Any], float | None]:
    def parse(value: Any) -> float | None:
        if optional and (value is None or value == ""):
            return None
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
        if not lo <= number <= hi or number != number:
            raise ValueError
        return number

    return parse


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError


def _choice(*choices: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = _text(value).lower()
        if text not in choices:
            raise ValueError
        return text

    return parse


def _text_list(value: Any) -> tuple[str, ...] | None:
    if value is None or value == "":
        return None
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        items = [items]
    out = tuple(_text(item) for item in items if str(item).strip())
    return out or None


def _path(value: Any) -> Path | None:
    if value is None or value == "":
        return None
    from pathlib import Path  # ~7 ms on a small VM: only when a path is configured

    return Path(os.path.expanduser(_text(value)))


def _server_url(value: Any) -> str | None:
    text = _optional_text(value)
    if text is None:
        return None
    scheme, _, rest = text.partition("://")
    if scheme.lower() not in ("http", "https") or not rest.strip("/"):
        raise ValueError
    return text.rstrip("/")


def _host_port(value: Any) -> str:
    text = _text(value)
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError
    return text


class _Explained(ValueError):
    """A bad value whose message says more than the key's ``allowed`` text can."""


def _sink_list(value: Any) -> tuple[str, ...]:
    # Any registered sink: the built-ins without touching package metadata, plugins through the
    # ``wattprint.sinks`` entry-point group (see wattprint.sinks.registry).
    from .sinks.registry import BUILTIN_SINKS, is_sink_name, unknown_sink_message

    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise ValueError
    out = []
    for item in items:
        name = str(item).strip()
        if not name:
            continue
        if name.lower() in BUILTIN_SINKS:
            name = name.lower()
        elif not is_sink_name(name):
            raise _Explained(unknown_sink_message(name))
        out.append(name)
    return tuple(dict.fromkeys(out))


KEYS: dict[str, Key] = {
    k.name: k
    for k in (
        Key("project", _text, "a non-empty name", "project the runs belong to"),
        Key("experiment", _text, "a non-empty name", "experiment within the project"),
        Key("country", _optional_text, "an ISO 3166 country code or name, e.g. FR",
            "where the machine is; overrides detection"),
        Key("subdivision", _optional_text, "a region code such as CA for California",
            "state/province within the country"),
        Key("zone", _optional_text, "a zone id such as FR, US-CA or SE-SE3",
            "grid zone; overrides country/subdivision"),
        Key("cloud", _optional_text, "aws, gcp, azure, oci, ovhcloud or scaleway",
            "cloud provider the run is on (with cloud_region)"),
        Key("cloud_region", _optional_text, "a region id such as europe-west9 or us-east-1",
            "cloud region the run is on"),
        Key("cloud_instance_type", _optional_text,
            "an instance type such as m5.large, n2-standard-4 or Standard_D4s_v5",
            "cloud instance type the run is on, for its CPU's watts per vCPU and its share of "
            "the host's embodied emissions (default: from the instance metadata)"),
        Key("lat", _number(-90, 90, optional=True), "a latitude from -90 to 90",
            "latitude, for live providers that locate by coordinates"),
        Key("lon", _number(-180, 180, optional=True), "a longitude from -180 to 180",
            "longitude, for live providers that locate by coordinates"),
        Key("postcode", _optional_text, "a UK postcode such as RG10 9XX",
            "UK postcode for the NESO regional intensity"),
        Key("cloud_metadata", _bool, "true or false",
            "ask the cloud's instance metadata where we run (only on cloud VMs)"),
        Key("ip_geolocation", _bool, "true or false",
            "opt in to locating the machine from its public IP address"),
        Key("provider", _choice("bundled", "electricitymaps", "watttime", "neso"),
            "bundled, electricitymaps, watttime or neso", "source of carbon intensity"),
        Key("electricitymaps_api_key", _optional_text, "an Electricity Maps API token",
            "Electricity Maps auth token"),
        Key("electricitymaps_emission_factor", _choice("lifecycle", "direct"),
            "lifecycle or direct", "Electricity Maps emission factor type"),
        Key("watttime_username", _optional_text, "a WattTime user name", "WattTime login"),
        Key("watttime_password", _optional_text, "a WattTime password", "WattTime login"),
        Key("watttime_region", _optional_text, "a WattTime region such as CAISO_NORTH",
            "WattTime balancing authority (else from lat/lon)"),
        Key("intensity_refresh_s", _number(60, 86400), "seconds from 60 to 86400",
            "how often a live provider is polled"),
        Key("intensity_figure", _choice("lifecycle", "native"), "lifecycle or native",
            "which bundled figure a run's emissions use: the lifecycle-comparable one (the same "
            "basis everywhere) or each source's own (e.g. eGRID's direct emissions)"),
        Key("renewable_share", _number(0, 1, optional=True), "a fraction from 0 to 1",
            "share of energy covered by renewable contracts, for the market-based figure"),
        Key("residual_g_per_kwh", _number(0, 2000, optional=True), "g/kWh from 0 to 2000",
            "residual-mix intensity for the energy not covered by contracts"),
        Key("budget_g", _number(1e-6, 1e12, optional=True),
            "grams CO2e above 0, e.g. 500 (a number, no unit)",
            "emissions budget of a run: warn once when the prediction or the measured total "
            "crosses it"),
        Key("budget_kwh", _number(1e-9, 1e9, optional=True),
            "kWh above 0, e.g. 2.5 (a number, no unit)",
            "energy budget of a run (IT energy, before PUE): warn once when the prediction or "
            "the measured total crosses it"),
        Key("embodied", _bool, "true or false",
            "report the hardware's embodied emissions for the run, separately"),
        Key("interval_s", _number(0.1, 3600), "a number of seconds from 0.1 to 3600",
            "how often a record is written"),
        Key("sample_s", _number(0.01, 10), "seconds from 0.01 to 10",
            "how often power-only devices are read (counters and models follow their own need)"),
        Key("heartbeat_s", _number(1, 3600), "seconds from 1 to 3600",
            "how often a running tracker says it is alive (a run whose heartbeat stops is "
            "shown as interrupted)"),
        Key("scope", _choice("machine", "process"), "'machine' or 'process'",
            "measure the whole machine, or the tracked process tree's share"),
        Key("pue", _number(1.0, 3.0, optional=True), "a number from 1.0 to 3.0",
            "data-centre power usage effectiveness (default: the cloud provider's published "
            "figure on a known cloud, else 1.0)"),
        Key("home", _path, "a directory path", "where the local store lives"),
        Key("sinks", _sink_list, "a list of registered sink names, e.g. sqlite,csv",
            "where records go"),
        Key("store_flush_s", _number(0, 300), "seconds from 0 to 300",
            "longest time records wait in the exporter before they go to the sinks (0: every "
            "record)"),
        Key("csv_path", _path, "a file path", "file for the csv sink"),
        Key("jsonl_path", _path, "a file path", "file for the jsonl sink"),
        Key("codecarbon_csv_path", _path, "a file path",
            "file for the codecarbon-csv sink (CodeCarbon's emissions.csv columns)"),
        Key("server_url", _server_url, "an http:// or https:// URL, e.g. https://wattprint.example.org",
            "team server the http sink sends to (default: the one `wattprint login` saved)"),
        Key("server_api_key", _optional_text, "an API key such as wp_abcd1234_...",
            "API key for server_url (default: the one `wattprint login` saved); never printed"),
        Key("log_records_level", _choice("debug", "info", "warning"), "debug, info or warning",
            "level of the log sink's lines (logger 'wattprint.records')"),
        Key("prometheus_address", _host_port, "HOST:PORT, e.g. 127.0.0.1:9464 (port 0: any free)",
            "where the prometheus sink serves /metrics"),
        Key("prometheus_run_id_label", _bool, "true or false",
            "add run_id to every Prometheus series (one new series per run)"),
        Key("pushgateway_url", _server_url, "an http:// or https:// URL, e.g. http://localhost:9091",
            "Prometheus Pushgateway the pushgateway sink pushes to"),
        Key("pushgateway_job", _text, "a non-empty name", "job label of the pushed metrics"),
        Key("pushgateway_every_s", _number(1, 86400), "seconds from 1 to 86400",
            "how often the pushgateway sink pushes during a run (and once at its end)"),
        Key("otlp_endpoint", _server_url, "an OTLP/HTTP metrics URL, e.g. "
            "http://localhost:4318/v1/metrics",
            "where the otel sink sends metrics (default: OpenTelemetry's own default or its "
            "OTEL_EXPORTER_OTLP_* variables)"),
        Key("cpu_tdp_w", _number(1, 2000, optional=True), "watts from 1 to 2000",
            "CPU thermal design power per socket, for the CPU model"),
        Key("ram_w_per_gib", _number(0.01, 10, optional=True), "watts per GiB from 0.01 to 10",
            "memory power for the RAM model, per GiB of installed (or cgroup-limited) memory"),
        Key("gpu_ids", _text_list, "a list of GPU indices or UUIDs, e.g. [0, 1] or \"0,1\"",
            "which GPUs to measure (default: all visible)"),
        Key("job_id", _optional_text, "a non-empty id",
            "shared run identity of a distributed job (default: SLURM_JOB_ID or "
            "TORCHELASTIC_RUN_ID)"),
        Key("rapl_psys", _bool, "true or false", "use the RAPL platform (psys) domain"),
        Key("lightning_callback", _bool, "true or false",
            "add wattprint's callback to every PyTorch Lightning Trainer (through Lightning's "
            "callbacks_factory entry point; wattprint[lightning])"),
        Key("log_level", _choice("debug", "info", "warning", "error"),
            "debug, info, warning or error", "level of the 'wattprint' logger"),
    )
}


@dataclass(frozen=True)
class Config:
    project: str = "default"
    experiment: str = "default"
    country: str | None = None
    subdivision: str | None = None
    zone: str | None = None
    cloud: str | None = None
    cloud_region: str | None = None
    cloud_instance_type: str | None = None
    lat: float | None = None
    lon: float | None = None
    postcode: str | None = None
    cloud_metadata: bool = True
    ip_geolocation: bool = False
    provider: str = "bundled"
    electricitymaps_api_key: str | None = field(default=None, repr=False)
    electricitymaps_emission_factor: str = "lifecycle"
    watttime_username: str | None = None
    watttime_password: str | None = field(default=None, repr=False)
    watttime_region: str | None = None
    intensity_refresh_s: float = 900.0
    intensity_figure: str = "lifecycle"
    renewable_share: float | None = None
    residual_g_per_kwh: float | None = None
    budget_g: float | None = None
    budget_kwh: float | None = None
    embodied: bool = True
    interval_s: float = 5.0
    sample_s: float = 0.1
    heartbeat_s: float = 30.0
    scope: str = "machine"
    pue: float | None = None
    home: Path | None = None
    sinks: tuple[str, ...] = ("sqlite",)
    store_flush_s: float = 10.0
    csv_path: Path | None = field(default_factory=lambda: _path("wattprint.csv"))
    jsonl_path: Path | None = field(default_factory=lambda: _path("wattprint.jsonl"))
    codecarbon_csv_path: Path | None = field(default_factory=lambda: _path("emissions.csv"))
    server_url: str | None = None
    server_api_key: str | None = field(default=None, repr=False)
    log_records_level: str = "info"
    prometheus_address: str = "127.0.0.1:9464"
    prometheus_run_id_label: bool = False
    pushgateway_url: str | None = None
    pushgateway_job: str = "wattprint"
    pushgateway_every_s: float = 30.0
    otlp_endpoint: str | None = None
    cpu_tdp_w: float | None = None
    ram_w_per_gib: float | None = None
    gpu_ids: tuple[str, ...] | None = None
    job_id: str | None = None
    rapl_psys: bool = False
    lightning_callback: bool = False
    log_level: str = "warning"
    # key -> where its value came from ("default", "argument", "env WATTPRINT_PUE", a file path)
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    # values the rest of the package may need from the environment, read here and only here
    environ: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def store_path(self) -> Path:
        return (self.home or default_home(self.environ)) / "wattprint.db"

    def source_of(self, key: str) -> str:
        return self.sources.get(key, "default")

    def with_overrides(self, overrides: Mapping[str, Any]) -> Config:
        """A copy with validated argument overrides (``None`` values are ignored)."""
        values, sources = {}, dict(self.sources)
        for given, raw in overrides.items():
            if raw is None:
                continue
            key, source = _current_name(given, "argument", overrides)
            values[key] = _parse(key, raw, "argument")
            sources[key] = source
        return replace(self, **values, sources=sources)


# Old names still accepted, each with a warning that names the new one: old -> (new, why).
RENAMED_KEYS = {
    "ram_w_per_gb": ("ram_w_per_gib", "the same value: it was always applied per GiB"),
}


def _current_name(key: str, source: str, layer: Mapping[str, Any]) -> tuple[str, str]:
    """``key`` under its current name, and the source to record for its value.

    A renamed key still works, with a ``FutureWarning`` (shown to users by default) naming the
    new one, and ``doctor`` shows the old name beside the value's source. Both names in one
    layer (one file, the environment, the arguments) is an error: which one is meant is unclear.
    """
    if key not in RENAMED_KEYS:
        return key, source
    new, why = RENAMED_KEYS[key]
    env = source.startswith("environment ")
    old_name, new_name = (ENV_PREFIX + key.upper(), ENV_PREFIX + new.upper()) if env else (key, new)
    if new in layer:
        raise ConfigError(f"{source}: both {old_name} and {new_name} are set; keep only "
                          f"{new_name}", key=key, source=source)
    import warnings

    warnings.warn(f"wattprint: {source}: {old_name} is deprecated; use {new_name} ({why})",
                  FutureWarning, stacklevel=4)
    return new, f"{source} (deprecated name {old_name})"


def _parse(key: str, raw: Any, source: str) -> Any:
    spec = KEYS.get(key)
    if spec is None:
        import difflib

        close = difflib.get_close_matches(key, KEYS, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(
            f"{source}: unknown setting {key!r}.{hint} Known settings: {', '.join(KEYS)}.",
            key=key, source=source,
        )
    try:
        return spec.parse(raw)
    except (ValueError, TypeError) as exc:
        detail = f" {str(exc)[:1].upper()}{str(exc)[1:]}" if isinstance(exc, _Explained) else ""
        raise ConfigError(
            f"{source}: {key} = {raw!r} is not allowed; expected {spec.allowed} ({spec.help})."
            f"{detail}",
            key=key, source=source,
        ) from None


def _cwd() -> Path:
    from pathlib import Path

    return Path.cwd()


def default_home(environ: Mapping[str, str]) -> Path:
    """Per-user data directory, following each platform's convention."""
    from pathlib import Path

    if environ.get("WATTPRINT_HOME"):
        return Path(os.path.expanduser(environ["WATTPRINT_HOME"]))
    home = Path(environ.get("HOME") or os.path.expanduser("~"))
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "wattprint"
    if sys.platform == "win32":
        base = environ.get("LOCALAPPDATA")
        return (Path(base) if base else home / "AppData" / "Local") / "wattprint"
    base = environ.get("XDG_DATA_HOME")
    return (Path(base) if base else home / ".local" / "share") / "wattprint"


def user_config_path(environ: Mapping[str, str]) -> Path:
    from pathlib import Path

    if environ.get("WATTPRINT_CONFIG"):
        return Path(os.path.expanduser(environ["WATTPRINT_CONFIG"]))
    if sys.platform == "win32" and environ.get("APPDATA"):
        return Path(environ["APPDATA"]) / "wattprint" / "config.toml"
    base = environ.get("XDG_CONFIG_HOME")
    home = Path(environ.get("HOME") or os.path.expanduser("~"))
    return (Path(base) if base else home / ".config") / "wattprint" / "config.toml"


def _mentions_wattprint(pyproject: Path) -> bool:
    # Most projects' pyproject.toml has no [tool.wattprint]: skip parsing it (tomllib and the
    # typing module it needs cost milliseconds of every tracker's construction).
    try:
        return b"wattprint" in pyproject.read_bytes()
    except OSError:
        return True  # let the real read report the problem


def _read_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
    try:
        with path.open("rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
            return data
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", source=str(path)) from None


def _file_layers(cwd: Path, environ: Mapping[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """(source, values) for each config file that exists, lowest precedence first."""
    layers: list[tuple[str, dict[str, Any]]] = []
    user = user_config_path(environ)
    if user.is_file():
        layers.append((str(user), _read_toml(user)))
    project_file = cwd / "wattprint.toml"
    pyproject = cwd / "pyproject.toml"
    if project_file.is_file():
        layers.append((str(project_file), _read_toml(project_file)))
    elif pyproject.is_file() and _mentions_wattprint(pyproject):
        table = _read_toml(pyproject).get("tool", {}).get("wattprint")
        if table is not None:
            if not isinstance(table, dict):
                raise ConfigError(f"{pyproject}: [tool.wattprint] must be a table")
            layers.append((f"{pyproject} [tool.wattprint]", table))
    return layers


def _env_layer(environ: Mapping[str, str]) -> list[tuple[str, str, str]]:
    out = []
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX) and name not in _ENV_META:
            out.append((f"environment {name}", name[len(ENV_PREFIX):].lower(), value))
    return sorted(out)


def load_config(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Config:
    """Build the effective :class:`Config` from every layer. Raises :class:`ConfigError`."""
    env = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for source, table in _file_layers(cwd or _cwd(), env):
        for given, raw in table.items():
            key, recorded = _current_name(given, source, table)
            values[key] = _parse(key, raw, source)
            sources[key] = recorded
    env_layer = _env_layer(env)
    env_keys = {key: raw for _, key, raw in env_layer}
    for source, given, raw in env_layer:
        key, recorded = _current_name(given, source, env_keys)
        values[key] = _parse(key, raw, source)
        sources[key] = recorded
    config = Config(**values, sources=sources, environ=env)
    return config.with_overrides(overrides or {})


def load_config_skipping_bad_env(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> tuple[Config, list[ConfigError]]:
    """:func:`load_config` for commands that only read stored data (``wattprint runs``): an
    unknown or bad ``WATTPRINT_*`` variable is left out and its error returned, not raised, so a
    stray variable cannot lock a user out of their history. File and argument errors raise."""
    env = dict(os.environ if environ is None else environ)
    skipped: list[ConfigError] = []
    while True:  # ends: each pass removes one variable or returns or raises
        try:
            return load_config(overrides, environ=env, cwd=cwd), skipped
        except ConfigError as exc:
            name = (exc.source or "").removeprefix("environment ")
            if name == exc.source or name not in env:
                raise
            del env[name]
            skipped.append(exc)


SECRET_KEYS = frozenset({"electricitymaps_api_key", "watttime_password", "server_api_key"})


def describe(config: Config) -> list[tuple[str, Any, str]]:
    """(key, value, source) for every setting, for ``doctor``; secrets are masked."""
    out = []
    for f in fields(config):
        if f.name not in KEYS:
            continue
        value = getattr(config, f.name)
        if f.name in SECRET_KEYS and value:
            value = "***"
        out.append((f.name, value, config.source_of(f.name)))
    return out
