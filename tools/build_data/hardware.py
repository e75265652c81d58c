"""CPU and memory power: cpu_tdp.csv and power_model.csv (sensors/data).

Power definition (cpu_tdp.csv)
    ``tdp_w`` is the processor's rated base power per socket: Intel's TDP or, from 12th-gen Core
    on, its Processor Base Power; AMD's default TDP; an Arm server chip's rated TDP. Never a
    turbo limit (Intel's Maximum Turbo Power, AMD's PPT) or a configurable-TDP-up figure. Rows
    whose inputs give a turbo figure are corrected or dropped (:mod:`.cpu_base_power`), and every
    correction is listed in SOURCES.json.

CPU TDP precedence
    CodeCarbon over Green Algorithms' curated list over eco2ai. Spot checks against Intel ARK and
    AMD product pages, on models where the three disagree, found CodeCarbon right far more often
    (the curated list has Ryzen 9 3900X at 125 W and Core i7-6700K at 95 W; AMD and Intel say
    105 W and 91 W). One exception: CodeCarbon's Intel export cut fractional watts (Atom N2600:
    3 W vs Intel's 3.5 W), so where its value is eco2ai's without the fraction, eco2ai's is used.
    Where eco2ai gives a base power (Intel Core Ultra), that is used, since base power is
    Intel's TDP and its other column is the turbo limit. Names that reduce to the same
    comparison key inside one source with different TDPs ("Pentium 4 3.00GHz" vs "3.73GHz") are
    dropped as ambiguous; rows with no brand or family (CodeCarbon's bare "4334") are dropped
    because nothing can match them safely; TDP outside 1-1000 W or unparsable is dropped.

Cloud and Arm server CPUs
    Parts no input lists (AWS Graviton, Ampere Altra, NVIDIA Grace, Google Axion, Azure Cobalt,
    cloud-only EPYC and Xeon SKUs) come from ``tools/curated/cpu_extra.csv``, each with its
    vendor's page; where a cloud-only part has no public TDP, the row says which public part it
    is taken from and why.

threads
    Hardware threads per socket as the host runs them (:mod:`.cpu_threads`), so a VM whose host
    CPU is known is charged TDP / threads per vCPU.

cpu_idle_fraction
    The median over SPECpower_ssj2008 results published in the ten years up to the snapshot
    date of (average watts at active idle) / (average watts at 100 % load).

vcpu_min_w / vcpu_max_w
    Cloud Carbon Footprint's watts per vCPU by microarchitecture: per microarchitecture the
    mean over the AWS, GCP and Azure files (they differ slightly), then the mean over
    microarchitectures, which is how CCF itself treats an unknown microarchitecture.

default_cpu_tdp_w
    The median TDP of the server-class rows (Xeon and EPYC, Xeon Phi excluded) of the merged
    CPU table: a per-socket default for a server CPU the table does not know.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from wattprint.sensors.hardware_data import normalize_cpu_name

from .common import (
    CODECARBON,
    CODECARBON_YEAR,
    CURATED_DIR,
    ECO2AI,
    ECO2AI_YEAR,
    GREENALGO_CPU_YEAR,
    SENSORS,
    SPECPOWER_SNAPSHOT,
    Table,
    fixed_decimals,
    greenalgo_cited,
    greenalgo_entry,
    greenalgo_reference_values,
    read_csv,
    source_entry,
)
from .cpu_base_power import KINDS, Correction, is_turbo, segment_base, twin
from .cpu_threads import aws_platform_threads, family_threads, specpower_threads

POWER_DEFINITION = (
    "tdp_w is the rated base power per socket: Intel's TDP or, from 12th-gen Core on, its "
    "Processor Base Power; AMD's default TDP; an Arm server chip's rated TDP. Never a turbo "
    "limit (Intel's Maximum Turbo Power, AMD's PPT) or a configurable-TDP-up figure."
)
CURATED_CPUS = CURATED_DIR / "cpu_extra.csv"
CURATED_HEADER = ("name", "tdp_w", "cores", "threads", "year", "basis", "source")


@dataclass(frozen=True)
class CpuRow:
    name: str
    tdp_w: float
    cores: int | None
    year: int | None  # the CPU's own release year, when the source gives one
    source: str


# Upstream spelling slips, fixed so the names can be matched.
NAME_FIXES = {"Rasberry Pi 4": "Raspberry Pi 4", "AMD 7552": "AMD EPYC 7552"}


def _display_name(raw_name: str) -> str:
    name = " ".join(raw_name.split())
    name = NAME_FIXES.get(name, name)
    key = normalize_cpu_name(name)
    brand = key.split(" ", 1)[0]
    if brand in ("intel", "amd") and brand not in name.lower().split():
        name = f"{'Intel' if brand == 'intel' else 'AMD'} {name}"
    return name


def _tdp(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 1 <= value <= 1000 else None


def _count(text: str) -> int | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value >= 1 and value == int(value) else None


def _read_greenalgo_cpus(raw: Path) -> list[CpuRow]:
    out = []
    for r in read_csv(raw / "hardware/greenalgorithms_TDP_cpu.csv", skip=1):
        tdp = _tdp(r["TDP"])
        if tdp is None:
            continue
        cite = r["source"].strip()
        out.append(
            CpuRow(
                name=_display_name(r["model"]),
                tdp_w=tdp,
                cores=_count(r["n_cores"]),
                year=_count(r["Release_year"]),
                source=f"Green Algorithms TDP_cpu.csv; {cite}"
                if cite
                else "Green Algorithms TDP_cpu.csv",
            )
        )
    return out


def _read_eco2ai_cpus(raw: Path) -> list[CpuRow]:
    out = []
    for r in read_csv(raw / "hardware/eco2ai_cpu_names.csv"):
        tdp = _tdp(r["TDP (Base)"]) or _tdp(r["TDP"])
        if tdp is None:
            continue
        released = r["Released"].strip()
        out.append(
            CpuRow(
                name=_display_name(r["Model"]),
                tdp_w=tdp,
                cores=_count(r["Cores"]),
                year=int(released[:4]) if re.fullmatch(r"\d{4}-\d\d-\d\d", released) else None,
                source=f"{ECO2AI} cpu_names.csv",
            )
        )
    return out


def _read_codecarbon_cpus(raw: Path) -> list[CpuRow]:
    out = []
    for r in read_csv(raw / "hardware/codecarbon_cpu_power.csv"):
        tdp = _tdp(r["TDP"])
        if tdp is None:
            continue
        out.append(CpuRow(_display_name(r["Name"]), tdp, None, None, f"{CODECARBON} cpu_power.csv"))
    return out


@dataclass(frozen=True)
class CuratedCpu:
    """A row of tools/curated/cpu_extra.csv; ``tdp_w`` None adds cores and threads only."""

    name: str
    tdp_w: float | None
    cores: int
    threads: int
    year: int
    source: str


def read_curated_cpus(path: Path = CURATED_CPUS) -> list[CuratedCpu]:
    rows = read_csv(path)
    if not rows or tuple(rows[0]) != CURATED_HEADER:
        raise ValueError(f"{path}: header must be {','.join(CURATED_HEADER)}")
    out, keys = [], set()
    for r in rows:
        where = f"{path.name}: {r['name']}"
        key = normalize_cpu_name(r["name"])
        if key in keys:
            raise ValueError(f"{where}: a second row for the name key {key!r}")
        keys.add(key)
        urls = r["source"].split()
        if not urls or not all(u.startswith("https://") for u in urls) or not r["basis"]:
            raise ValueError(f"{where}: needs a basis and https source pages")
        cores, threads = _count(r["cores"]), _count(r["threads"])
        if cores is None or threads not in (cores, 2 * cores):
            raise ValueError(f"{where}: threads must be the core count or twice it")
        tdp = _tdp(r["tdp_w"]) if r["tdp_w"] else None
        if r["tdp_w"] and tdp is None:
            raise ValueError(f"{where}: tdp_w must be 1-1000 W or empty")
        out.append(
            CuratedCpu(
                name=r["name"],
                tdp_w=tdp,
                cores=cores,
                threads=threads,
                year=int(r["year"]),
                source=f"wattprint curated (tools/curated/cpu_extra.csv): {r['basis']}; "
                + " ".join(urls),
            )
        )
    return out


@dataclass
class SourceStats:
    read: int = 0
    unbranded: int = 0
    no_model: int = 0
    ambiguous: list[str] = field(default_factory=list)


def _dedupe(rows: list[CpuRow], stats: SourceStats) -> dict[str, CpuRow]:
    """Key -> row for one source; a key whose rows disagree on TDP is dropped as ambiguous."""
    groups: dict[str, list[CpuRow]] = {}
    for row in rows:
        stats.read += 1
        key = normalize_cpu_name(row.name)
        if key.split(" ", 1)[0] not in ("intel", "amd", "apple", "raspberry"):
            stats.unbranded += 1
            continue
        if not any(ch.isdigit() for ch in key):
            # A bare family ("Intel Xeon") would match every VM that hides its model.
            stats.no_model += 1
            continue
        groups.setdefault(key, []).append(row)
    out = {}
    for key, group in groups.items():
        if len({r.tdp_w for r in group}) > 1:
            stats.ambiguous.append(key)
            continue
        out[key] = min(group, key=lambda r: r.name)
    stats.ambiguous.sort()
    return out


def _truncated(codecarbon_w: float, eco2ai_w: float) -> bool:
    """CodeCarbon's Intel export cut fractional watts: 3 W where Intel says 3.5 W."""
    return codecarbon_w == int(codecarbon_w) and int(eco2ai_w) == codecarbon_w != eco2ai_w


Present = list[tuple[str, CpuRow, int]]  # (source name, row, source vintage), precedence order


def _pick(key: str, present: Present, corrections: list[Correction]) -> tuple[str, CpuRow, int]:
    """The precedence winner, with a turbo figure replaced by another input's base figure."""
    winner_name, winner, vintage = present[0]
    eco = next(((n, r, v) for n, r, v in present if n == "eco2ai"), None)
    if winner_name == "codecarbon" and eco is not None and _truncated(winner.tdp_w, eco[1].tdp_w):
        winner_name, winner, vintage = eco
    if is_turbo(key, winner.tdp_w):
        base = [(n, r, v) for n, r, v in present if not is_turbo(key, r.tdp_w)]
        if base:
            n, r, _ = base[0]
            corrections.append(
                Correction(key, winner.name, winner.tdp_w, r.tdp_w, KINDS[0],
                           f"{winner_name}'s figure is above every base power of its segment, "
                           f"{n}'s is within")
            )
            return base[0]
    return winner_name, winner, vintage


def _turbo_fix(key: str, row: CpuRow, source_name: str, chosen: dict[str, CpuRow]) -> Correction:
    """Steps 2-4 of :mod:`.cpu_base_power` for a row whose every input gives a turbo figure."""
    why = f"{source_name}'s {row.tdp_w:g} W is above every base power of its segment"
    sibling = chosen.get(twin(key))
    if sibling is not None and not is_turbo(key, sibling.tdp_w):
        return Correction(key, row.name, row.tdp_w, sibling.tdp_w, KINDS[1],
                          f"{why}; base power of its twin {sibling.name}")
    implied = segment_base(key, row.tdp_w)
    if implied is not None:
        return Correction(key, row.name, row.tdp_w, implied[0], KINDS[2], f"{why}; {implied[1]}")
    return Correction(key, row.name, row.tdp_w, None, KINDS[3], f"{why} and no base figure is known")


def build_cpu_tdp(raw: Path) -> Table:
    sources: list[tuple[str, list[CpuRow], int]] = [
        ("codecarbon", _read_codecarbon_cpus(raw), CODECARBON_YEAR),
        ("greenalgorithms", _read_greenalgo_cpus(raw), GREENALGO_CPU_YEAR),
        ("eco2ai", _read_eco2ai_cpus(raw), ECO2AI_YEAR),
    ]
    stats = {name: SourceStats() for name, _, _ in sources}
    keyed = [(name, _dedupe(rows, stats[name]), vintage) for name, rows, vintage in sources]

    disagreements: list[str] = []
    corrections: list[Correction] = []
    chosen: dict[str, CpuRow] = {}
    facts: dict[str, tuple[int | None, int]] = {}  # key -> (cores, year)
    turbo_only: dict[str, tuple[str, CpuRow]] = {}
    won: Counter[str] = Counter({name: 0 for name, _, _ in sources})
    for key in sorted(set().union(*(rows for _, rows, _ in keyed))):
        present = [(name, rows[key], vintage) for name, rows, vintage in keyed if key in rows]
        winner_name, winner, vintage = _pick(key, present, corrections)
        # Core counts and release years are facts about the chip, whichever source has them.
        cores = next((r.cores for _, r, _ in present if r.cores), None)
        year = next((r.year for _, r, _ in present if r.year), None) or vintage
        facts[key] = (cores, year)
        assert normalize_cpu_name(winner.name) == key, winner.name
        if is_turbo(key, winner.tdp_w):
            turbo_only[key] = (winner_name, winner)
            continue
        won[winner_name] += 1
        chosen[key] = winner
        others = {f"{n} {fixed_decimals(r.tdp_w, 2)} W" for n, r, _ in present if r.tdp_w != winner.tdp_w}
        if others:
            disagreements.append(
                f"{winner.name}: {winner_name} {fixed_decimals(winner.tdp_w, 2)} W used; "
                + ", ".join(sorted(others))
            )
    # Only now, so that a twin's figure is the one its own inputs gave, whatever the key order.
    fixes = {key: _turbo_fix(key, row, name, chosen) for key, (name, row) in turbo_only.items()}
    for key, fix in sorted(fixes.items()):
        corrections.append(fix)
        if fix.now_w is not None:
            name, row = turbo_only[key]
            won[name] += 1
            chosen[key] = replace(
                row, tdp_w=fix.now_w, source=f"{row.source}; wattprint's derivation: {fix.reason}"
            )

    curated = read_curated_cpus()
    threads_from: Counter[str] = Counter()
    extra: dict[str, tuple[int, int, str]] = {}  # key -> (cores, threads, source) from curation
    for c in curated:
        key = normalize_cpu_name(c.name)
        if c.tdp_w is None:
            if key not in chosen:
                raise ValueError(f"cpu_extra.csv: {c.name} adds threads to a row no input has")
            extra[key] = (c.cores, c.threads, c.source)
            continue
        if key in chosen or key in turbo_only:
            raise ValueError(f"cpu_extra.csv: {c.name} is also in the inputs; drop one of them")
        chosen[key] = CpuRow(c.name, c.tdp_w, c.cores, c.year, c.source)
        facts[key] = (c.cores, c.year)
        extra[key] = (c.cores, c.threads, "")
        won["curated"] += 1

    aws = aws_platform_threads(raw)
    spec, spec_disagreed = specpower_threads(raw, SPECPOWER_SNAPSHOT.isoformat())
    merged: dict[str, tuple[str, ...]] = {}
    for key, row in chosen.items():
        cores, year = facts[key]
        threads, note = None, ""
        if key in extra:
            cores, threads, source = extra[key]
            note, why = (f"; cores and threads: {source}" if source else ""), "curated"
        elif key in aws:
            threads, why = aws[key], "CCF AWS platform data"
            note = "; threads: vCPUs per socket, Cloud Carbon Footprint's AWS platform data"
        elif key in spec and cores in (None, spec[key][0]):
            cores, threads = spec[key]
            why, note = "SPECpower", "; cores and threads: SPECpower_ssj2008 results"
        elif (threads := family_threads(key, cores)) is not None:
            why, note = "family rule", "; threads: 2 per core, as on every model of its family"
        if threads is not None:
            threads_from[why] += 1
        merged[key] = (
            row.name,
            fixed_decimals(row.tdp_w, 2),
            str(cores or ""),
            str(threads or ""),
            row.source + note,
            str(year),
        )

    corrected = [c for c in corrections if c.now_w is not None]
    dropped = [c for c in corrections if c.now_w is None]
    rows = sorted(merged.values(), key=lambda r: (r[0].casefold(), r[0]))
    with_threads = sum(1 for r in rows if r[3])
    return Table(
        path=f"{SENSORS}/cpu_tdp.csv",
        header=("name", "tdp_w", "cores", "threads", "source", "year"),
        rows=rows,
        description=(
            "CPU model -> base power per socket (W; see power_definition), with core and "
            "thread counts per socket where known."
        ),
        inputs=[
            greenalgo_entry("TDP_cpu.csv", "hardware/greenalgorithms_TDP_cpu.csv"),
            source_entry(
                "eco2ai (Sber AI Lab)",
                "cpu_names.csv",
                ECO2AI,
                "Apache-2.0",
                "https://github.com/sb-ai-lab/Eco2AI",
                "hardware/eco2ai_cpu_names.csv",
            ),
            source_entry(
                "CodeCarbon (Intel ARK and AMD specification exports)",
                "cpu_power.csv",
                CODECARBON,
                "MIT",
                "https://github.com/mlco2/codecarbon",
                "hardware/codecarbon_cpu_power.csv",
            ),
            source_entry(
                "Cloud Carbon Footprint",
                "AWS instance CPUs (vCPUs per socket, for threads)",
                "ccf-coefficients at commit b0032d9",
                "Apache-2.0",
                "https://github.com/cloud-carbon-footprint/ccf-coefficients",
                "hardware/ccf_aws_instances_cpus.csv",
            ),
            source_entry(
                "Standard Performance Evaluation Corporation (SPEC)",
                "SPECpower_ssj2008 published results (cores and threads per chip)",
                SPECPOWER_SNAPSHOT.isoformat(),
                "SPEC published results (fair use of results); collected by CCF under Apache-2.0",
                "https://www.spec.org/power_ssj2008/results/",
                f"hardware/ccf_SPECpower_{SPECPOWER_SNAPSHOT.isoformat()}.csv",
                via="cloud-carbon-footprint/ccf-coefficients",
            ),
            {
                "publisher": "wattprint (hand-curated from vendor and cloud provider pages)",
                "dataset": "tools/curated/cpu_extra.csv",
                "vintage": "curated 2026-12-01",
                "licence": "facts; each row names its pages",
                "url": "",
                "raw_file": "tools/curated/cpu_extra.csv",
            },
        ],
        choices=[
            f"Power definition: {POWER_DEFINITION}",
            (
                f"Turbo figures: {len(corrected)} rows corrected to their base power and "
                f"{len(dropped)} dropped, listed under base_power_corrections. From 12th-gen Core "
                "on Intel publishes Processor Base Power and Maximum Turbo Power and the inputs "
                "took either; a figure above the highest base power of the part's segment "
                "(suffix) is a turbo figure. It is replaced by another input's base figure, else "
                "its K/KF or F twin's, else the segment's one base power; else the row is dropped "
                "(reasons counted under base_power_corrections_by_reason)."
            ),
            (
                "Precedence: CodeCarbon > Green Algorithms > eco2ai. Spot checks of models where "
                "they disagree, against Intel ARK and AMD product pages, found CodeCarbon right for "
                "Ryzen 9 3900X (105 W), Core i3-10320 (65 W), i5-10600K (125 W), i7-6700K (91 W), "
                "i9-10900KF (125 W), EPYC 7543 (225 W) and Xeon E5-2609 v3 (85 W), where the curated "
                "list or eco2ai (or both) differ; the curated list is right for Core i9-12900K "
                "(125 W base power; eco2ai gives the 241 W turbo limit), which CodeCarbon lacks."
            ),
            (
                "Exception: where CodeCarbon's value is eco2ai's with the fraction cut off (Atom "
                "N2600 3 W vs 3.5 W on Intel ARK), eco2ai's is used."
            ),
            (
                "eco2ai's 'TDP (Base)' (Intel processor base power) is used where present instead of "
                "its 'TDP' column, which there holds the turbo power limit."
            ),
            (
                f"Cloud and Arm server CPUs: {won['curated']} rows hand-curated in "
                "tools/curated/cpu_extra.csv from vendor and cloud provider pages; a cloud-only "
                "part without a public TDP takes that of the public part it matches (core type, "
                "count and clock), and says so in its source."
            ),
            (
                f"threads (hardware threads per socket as the host runs them): {with_threads} of "
                f"{len(rows)} rows, by source under threads_by_source: curated rows; Cloud Carbon "
                "Footprint's AWS vCPUs per socket; SPECpower results where all of a CPU's results "
                "agree ("
                f"{spec_disagreed} CPUs' results disagree and are left out); else 2 x cores for "
                "AMD EPYC, Ryzen Threadripper and Xeon Platinum/Gold/Silver, which run 2 threads "
                "on every core. Other rows stay empty: a VM on them falls back to the cloud "
                "average, visibly."
            ),
            (
                "year: the CPU's release year where any input gives one, else the vintage of the "
                f"source snapshot the TDP came from (CodeCarbon {CODECARBON_YEAR}, eco2ai "
                f"{ECO2AI_YEAR}, Green Algorithms {GREENALGO_CPU_YEAR}: the release year of the "
                "newest CPU its undated list includes)."
            ),
            (
                "Dropped: TDP unparsable or outside 1-1000 W; names with no brand or family "
                "(e.g. CodeCarbon's bare '4334') or no model number (a bare 'Intel Xeon'); "
                "names that reduce to one key with different TDPs "
                "within a source (e.g. Pentium 4 at several clocks)."
            ),
            f"Name fixes: {json.dumps(NAME_FIXES)}; a missing 'Intel'/'AMD' is prefixed.",
            (
                f"{len(disagreements)} models where sources disagree on TDP; the first are listed "
                "under disagreements."
            ),
        ],
        extra={
            "power_definition": POWER_DEFINITION,
            "rows_by_source": dict(won),
            "base_power_corrections_by_reason": dict(
                sorted(Counter(c.kind for c in corrections).items())
            ),
            "base_power_corrections": [c.line() for c in corrections],
            "threads_by_source": dict(sorted(threads_from.items())),
            "per_source": {
                name: {
                    "rows_read": s.read,
                    "dropped_unbranded": s.unbranded,
                    "dropped_no_model_number": s.no_model,
                    "dropped_ambiguous": len(s.ambiguous),
                    "ambiguous_examples": s.ambiguous[:5],
                }
                for name, s in stats.items()
            },
            "disagreements": disagreements[:25],
        },
    )


def _month_index(text: str) -> int:
    """ "Jun-2024" -> months since year 0, for comparing publication dates."""
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    mon, year = text.split("-")
    return int(year) * 12 + months.index(mon)


def _idle_fraction(raw: Path) -> tuple[float, str, list[str]]:
    rows = read_csv(raw / f"hardware/ccf_SPECpower_{SPECPOWER_SNAPSHOT.isoformat()}.csv")
    end = SPECPOWER_SNAPSHOT.year * 12 + SPECPOWER_SNAPSHOT.month - 1
    start = end - 120
    ratios = []
    years = []
    for r in rows:
        month = _month_index(r["Published"])
        full, idle = float(r["avg. watts @ 100%"]), float(r["avg. watts @ active idle"])
        if start <= month <= end and full > 0 and idle > 0:
            ratios.append(idle / full)
            years.append(month // 12)
    median = statistics.median(ratios)
    q1, _, q3 = statistics.quantiles(ratios, n=4)
    source = (
        f"SPECpower_ssj2008 published results (via Cloud Carbon Footprint, snapshot "
        f"{SPECPOWER_SNAPSHOT.isoformat()}): median of active-idle / 100%-load average watts "
        f"over the N={len(ratios)} results published {min(years)}-{max(years)} "
        f"(Mar {SPECPOWER_SNAPSHOT.year - 10} to Mar {SPECPOWER_SNAPSHOT.year})"
    )
    notes = [
        (
            f"cpu_idle_fraction: N={len(ratios)}, median {median:.4f}, interquartile range "
            f"{q1:.3f}-{q3:.3f}. Whole-server power, so it includes fans, RAM and PSU losses."
        ),
    ]
    return median, source, notes


def _vcpu_watts(raw: Path) -> tuple[float, float, int, list[str]]:
    per_arch: dict[str, list[tuple[float, float]]] = {}
    for provider in ("aws", "gcp", "azure"):
        for r in read_csv(raw / f"cloud/ccf_coefficients_{provider}_use.csv"):
            per_arch.setdefault(r["Architecture"], []).append(
                (float(r["Min Watts"]), float(r["Max Watts"]))
            )
    mins = [statistics.fmean(v[0] for v in vals) for vals in per_arch.values()]
    maxs = [statistics.fmean(v[1] for v in vals) for vals in per_arch.values()]
    notes = [
        (
            f"vcpu_min_w / vcpu_max_w: mean over {len(per_arch)} microarchitectures "
            f"({', '.join(sorted(per_arch))}), each first averaged over the providers listing it."
        ),
        (
            f"The mean is kept because it is CCF's own rule for an unknown microarchitecture; the "
            f"median ({statistics.median(mins):.3f} / {statistics.median(maxs):.3f} W) is lower "
            "because one row (EPYC 5th Gen, 3.68 / 8.96 W) is far above the rest, and the Graviton "
            "rows repeat CCF's EPYC 2nd Gen values."
        ),
    ]
    return statistics.fmean(mins), statistics.fmean(maxs), len(per_arch), notes


def _default_tdp(cpu_table: Table) -> tuple[float, int]:
    server = []
    for name, tdp, *_ in cpu_table.rows:
        words = normalize_cpu_name(name).split()
        if ("xeon" in words and "phi" not in words) or "epyc" in words:
            server.append(float(tdp))
    return statistics.median(server), len(server)


def build_power_model(raw: Path, cpu_table: Table) -> Table:
    ref = greenalgo_reference_values(raw)
    idle, idle_source, idle_notes = _idle_fraction(raw)
    vmin, vmax, n_arch, vcpu_notes = _vcpu_watts(raw)
    default_tdp, n_server = _default_tdp(cpu_table)
    ccf = (
        f"Cloud Carbon Footprint coefficients (Apache-2.0): mean over {n_arch} "
        "microarchitectures of the AWS, GCP and Azure per-vCPU watts"
    )
    rows = [
        ("cpu_idle_fraction", fixed_decimals(idle, 4), "1", idle_source, str(SPECPOWER_SNAPSHOT.year)),
        (
            "ram_w_per_gb",
            fixed_decimals(ref["memoryPower"][0], 4),
            "W/GB",
            greenalgo_cited(ref, "memoryPower"),
            "2017",  # the cited ACM paper (doi 10.1145/3076113.3076117) is from 2017
        ),
        ("vcpu_min_w", fixed_decimals(vmin, 4), "W", f"{ccf} at idle", str(SPECPOWER_SNAPSHOT.year)),
        ("vcpu_max_w", fixed_decimals(vmax, 4), "W", f"{ccf} at full load", str(SPECPOWER_SNAPSHOT.year)),
        (
            "default_cpu_tdp_w",
            fixed_decimals(default_tdp, 2),
            "W",
            (
                f"median TDP of the {n_server} server-class rows (Xeon except Xeon Phi, EPYC) of "
                "wattprint's cpu_tdp.csv, per socket"
            ),
            str(CODECARBON_YEAR),
        ),
    ]
    return Table(
        path=f"{SENSORS}/power_model.csv",
        header=("key", "value", "unit", "source", "year"),
        rows=sorted(rows),
        description="Constants of the TDP x load power model and its fallbacks.",
        inputs=[
            source_entry(
                "Standard Performance Evaluation Corporation (SPEC)",
                "SPECpower_ssj2008 published results",
                SPECPOWER_SNAPSHOT.isoformat(),
                "SPEC published results (fair use of results); collected by CCF under Apache-2.0",
                "https://www.spec.org/power_ssj2008/results/",
                f"hardware/ccf_SPECpower_{SPECPOWER_SNAPSHOT.isoformat()}.csv",
                via="cloud-carbon-footprint/ccf-coefficients",
            ),
            source_entry(
                "Cloud Carbon Footprint",
                "ccf-coefficients output/*_use.csv",
                "snapshot with SPECpower to 2026-03",
                "Apache-2.0",
                "https://github.com/cloud-carbon-footprint/ccf-coefficients",
                "cloud/ccf_coefficients_{aws,gcp,azure}_use.csv",
            ),
            greenalgo_entry("referenceValues.csv", "hardware/greenalgorithms_referenceValues.csv"),
            {
                "publisher": "wattprint",
                "dataset": "cpu_tdp.csv (this directory)",
                "vintage": "see cpu_tdp.csv",
                "licence": "see cpu_tdp.csv",
                "url": "",
                "raw_file": "sensors/data/cpu_tdp.csv",
            },
        ],
        choices=[
            *idle_notes,
            *vcpu_notes,
            (
                f"default_cpu_tdp_w: median of {n_server} Xeon/EPYC rows = {default_tdp:g} W; "
                "used per socket when the CPU model is unknown, and flagged as a fallback."
            ),
            "year for CCF- and SPECpower-derived values is that of the 2026-03-09 snapshot.",
        ],
    )

