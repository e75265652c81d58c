"""Countries, their other English names and time zones: countries.csv, country_aliases.csv and
timezones.csv.

Time zones and country names come from the IANA tz database as shipped by the ``tzdata`` PyPI
package (public domain), or from ``/usr/share/zoneinfo`` without it; ISO3 codes and other names
from eco2ai's and Our World in Data's country tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from .common import CC_BY, CODECARBON, ECO2AI, INTENSITY, Table, load_json, read_csv, source_entry

# --------------------------------------------------------------------------------------------
# IANA tz files


@dataclass(frozen=True)
class TzData:
    root: Path
    version: str
    origin: str


def find_tzdata() -> TzData:
    """The tz database from the tzdata package, else the system's copy."""
    try:
        from importlib.resources import files

        import tzdata  # type: ignore[import-untyped]  # only the build needs it

        root = Path(str(files("tzdata") / "zoneinfo"))
        return TzData(root, str(tzdata.IANA_VERSION), "tzdata PyPI package")
    except ImportError:
        root = Path("/usr/share/zoneinfo")
        version = "unknown"
        zi = root / "tzdata.zi"
        if zi.exists():
            first = zi.read_text(encoding="utf-8").split("\n", 1)[0]
            if first.startswith("# version "):
                version = first.removeprefix("# version ").strip()
        return TzData(root, version, str(root))


def _tab_rows(path: Path) -> Iterable[list[str]]:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            yield line.split("\t")


def read_iso3166(tz: TzData) -> dict[str, str]:
    return {code: name for code, name in _tab_rows(tz.root / "iso3166.tab")}


def read_tz_countries(tz: TzData) -> tuple[dict[str, str], int, int, list[str]]:
    """tz name -> ISO2, plus counts of canonical names and aliases, and the aliases left out.

    zone.tab gives each zone one country, so it goes first; zone1970.tab only adds zones that
    belong to a single country. Backward-compatible names ("Asia/Calcutta") come from the links
    in tzdata.zi. Since 2022 one zone can stand for several countries (Europe/Berlin also covers
    Stockholm and Oslo), so an alias is mapped only when its link target is known to cover one
    country: by zone1970.tab, which lists every country a zone covers, and by the zone.tab
    names that link to the same target. zone1970.tab matters for distributions that build with
    "backzone": there Africa/Asmara is its own zone, yet Africa/Asmera still links to Nairobi.
    """
    mapping: dict[str, str] = {}
    covers: dict[str, set[str]] = {}
    for row in _tab_rows(tz.root / "zone.tab"):
        mapping[row[2]] = row[0]
    zone1970 = tz.root / "zone1970.tab"
    if zone1970.exists():
        for row in _tab_rows(zone1970):
            codes = row[0].split(",")
            covers.setdefault(row[2], set()).update(codes)
            if len(codes) == 1:
                mapping.setdefault(row[2], codes[0])
    canonical = len(mapping)

    links: dict[str, str] = {}
    zi = tz.root / "tzdata.zi"
    if zi.exists():
        for line in zi.read_text(encoding="utf-8").splitlines():
            if line.startswith("L "):
                _, target, alias = line.split()
                links[alias] = target
    for name, code in mapping.items():
        covers.setdefault(links.get(name, name), set()).add(code)
    skipped: list[str] = []
    aliases = 0
    for alias, target in sorted(links.items()):
        # "UTC", "CET", "EST5EDT" are offsets or rules, not places; Etc/* likewise.
        if alias in mapping or "/" not in alias or alias.startswith("Etc/"):
            continue
        found = covers.get(target, set())
        if len(found) == 1:
            mapping[alias] = next(iter(found))
            aliases += 1
        elif found:
            skipped.append(alias)
    return mapping, canonical, aliases, skipped


# --------------------------------------------------------------------------------------------
# The tables


def iso3_codes(raw: Path, iso: dict[str, str]) -> dict[str, str]:
    """ISO2 -> ISO3 as countries.csv gives them (for tables keyed by ISO3, like the OWID mix)."""
    return _codes(raw, iso)[0]


def _codes(
    raw: Path, iso: dict[str, str]
) -> tuple[dict[str, str], dict[str, tuple[str, str]], list[str], list[str], list[dict[str, str]]]:
    """ISO3 codes and English aliases by ISO2, with what was repaired or taken from the mix."""
    eco = [
        r for r in read_csv(raw / "grid/eco2ai_carbon_index.csv") if r["region"] == "Whole country"
    ]
    mix: dict[str, dict[str, Any]] = load_json(raw / "grid/owid_energy_mix_by_country.json")
    by_name = {name.casefold(): code for code, name in iso.items()}

    iso3: dict[str, str] = {}
    aliases: dict[str, tuple[str, str]] = {}
    repaired: list[str] = []
    for r in eco:
        code = r["alpha_2_code"].strip()
        if not code:
            # Namibia's code "NA" was read as a missing value somewhere upstream; recover it
            # from the English name.
            code = by_name.get(r["country"].casefold(), "")
            repaired.append(f"{r['country']}: ISO2 {code or '?'} recovered from the name")
        if code in iso:
            iso3.setdefault(code, r["alpha_3_code"].strip())
            aliases.setdefault(r["country"].strip().casefold(), (r["country"].strip(), code))
            if r["alternative_name"] not in ("", "N/A"):
                alt = r["alternative_name"].strip()
                aliases.setdefault(alt.casefold(), (alt, code))

    from_mix: list[str] = []
    by_alias = {k: v[1] for k, v in aliases.items()} | by_name
    for code3, entry in sorted(mix.items()):
        code2 = next((c for c, c3 in iso3.items() if c3 == code3), "") or by_alias.get(
            str(entry["country_name"]).casefold(), ""
        )
        if code2 in iso:
            if code2 not in iso3:
                iso3[code2] = code3
                from_mix.append(f"{code2}={code3}")
            name = str(entry["country_name"]).strip()
            aliases.setdefault(name.casefold(), (name, code2))
    return iso3, aliases, repaired, from_mix, eco


def build_countries(raw: Path, iso: dict[str, str], tz: TzData) -> tuple[Table, Table]:
    """countries.csv (ISO2, ISO3, name) and country_aliases.csv (other English names)."""
    iso3, aliases, repaired, from_mix, eco = _codes(raw, iso)

    # Common short forms no source above spells out. "UK" is ISO's exceptionally reserved
    # code for the United Kingdom.
    curated = {"UK": "GB", "Great Britain": "GB", "United States of America": "US"}
    for alias, code in curated.items():
        aliases.setdefault(alias.casefold(), (alias, code))

    country_rows = sorted((code, iso3.get(code, ""), name) for code, name in iso.items())
    official = {name.casefold() for name in iso.values()}
    alias_rows = sorted(
        (
            (name, code, "wattprint curated" if name in curated else _alias_source(name, eco))
            for key, (name, code) in aliases.items()
            if key not in official
        ),
        key=lambda r: (r[0].casefold(), r[1]),
    )

    tz_input = source_entry(
        "IANA",
        "tz database iso3166.tab",
        tz.version,
        "public domain",
        "https://www.iana.org/time-zones",
        "tzdata/zoneinfo/iso3166.tab",
    )
    eco_input = source_entry(
        "eco2ai (Sber AI Lab)",
        "carbon_index.csv",
        ECO2AI,
        "Apache-2.0",
        "https://github.com/sb-ai-lab/Eco2AI",
        "grid/eco2ai_carbon_index.csv",
    )
    mix_input = source_entry(
        "Our World in Data (Ember, Energy Institute)",
        "energy mix by country",
        "2021-2023 (per country)",
        CC_BY,
        "https://github.com/owid/energy-data",
        "grid/owid_energy_mix_by_country.json",
        via=f"{CODECARBON} global_energy_mix.json (MIT)",
    )
    countries = Table(
        path=f"{INTENSITY}/countries.csv",
        header=("iso2", "iso3", "name"),
        rows=country_rows,
        description="Every ISO 3166 country: alpha-2, alpha-3 (empty where unknown), English name.",
        inputs=[tz_input, eco_input, mix_input],
        choices=[
            (
                "Names are the tz database's short English names (e.g. 'Britain (UK)'), "
                "since it is the only public-domain list covering all 249 codes."
            ),
            "ISO3 from eco2ai's alpha_3_code; OWID's iso_code fills codes eco2ai lacks.",
            *repaired,
            *(f"ISO3 from OWID energy mix only: {x}" for x in from_mix),
        ],
        extra={"without_iso3": sorted(c for c in iso if not iso3.get(c))},
    )
    alias_table = Table(
        path=f"{INTENSITY}/country_aliases.csv",
        header=("alias", "iso2", "source"),
        rows=alias_rows,
        description=(
            "Other English country names ('United Kingdom', 'South Korea', 'Czechia') that "
            "normalize_country accepts besides the names in countries.csv."
        ),
        inputs=[eco_input, mix_input],
        choices=["An official (countries.csv) name always wins over an alias."],
    )
    return countries, alias_table


def _alias_source(name: str, eco: Sequence[dict[str, str]]) -> str:
    if any(r["country"].strip() == name or r["alternative_name"].strip() == name for r in eco):
        return f"{ECO2AI} carbon_index.csv"
    return "Our World in Data energy mix"


def build_timezones(tz: TzData, iso: dict[str, str]) -> Table:
    mapping, canonical, aliases, skipped = read_tz_countries(tz)
    rows = sorted((name, code) for name, code in mapping.items() if code in iso)
    return Table(
        path=f"{INTENSITY}/timezones.csv",
        header=("tz", "iso2"),
        rows=rows,
        description="IANA time zone name -> ISO 3166 alpha-2 country. UTC and Etc/* are absent.",
        inputs=[
            source_entry(
                "IANA",
                "tz database zone.tab, zone1970.tab, tzdata.zi links",
                tz.version,
                "public domain",
                "https://www.iana.org/time-zones",
                "tzdata/zoneinfo/",
                via=tz.origin,
            )
        ],
        choices=[
            f"{canonical} zones from zone.tab (one country each) and single-country zone1970.tab rows.",
            (
                f"{aliases} backward-compatible aliases (e.g. Asia/Calcutta) mapped through their "
                "link target when that target stands for one country only."
            ),
            (
                f"{len(skipped)} aliases left out because their target now covers several countries "
                f"(e.g. {', '.join(skipped[:4])})."
            ),
            "Names without a '/' (UTC, CET, EST5EDT) and Etc/* are offsets, not places: unmapped.",
        ],
        extra={"tz_version": tz.version},
    )

