"""Regenerate wattprint's bundled data tables from upstream public files.

Usage::

    python tools/build_data.py [--raw-dir ../shared/reference-data] [--out-root src/wattprint]
    python tools/build_data.py --check     # exit 1, with a diff summary, if the tables are stale

The raw files are read where they lie and are never copied into the repository: only the tables
written here, in wattprint's own schema and with a source, year and licence on every row, are
committed.

Output is deterministic: rows are sorted, floats have a fixed number of decimals, and the only
dates are the vintages of the data. Re-running on the same inputs gives the same bytes.

One module per table family; each module's docstring states the choices made where sources
disagree or leave a gap (each ``SOURCES.json`` records them too):

- :mod:`places`: countries.csv, country_aliases.csv, timezones.csv (IANA tz database)
- :mod:`grid`: zones.csv, countries and WORLD (Ember via Our World in Data)
- :mod:`comparable`: zones.csv's lifecycle-comparable figure, staleness policy and flags
- :mod:`subnational`: the sub-national rows of zones.csv, and subdivisions.csv
- :mod:`equivalents`: equivalents.csv (Green Algorithms' reference values)
- :mod:`cloud_regions`: cloud_regions.csv (hand-curated) and gcp_intensity.csv (Google)
- :mod:`cloud_pue`: cloud_pue.csv (PUE and fleet WUE)
- :mod:`embodied`: embodied.csv (Cloud Carbon Footprint)
- :mod:`uncertainty`: uncertainty.csv (the bands `wattprint report` states, hand-curated)
- :mod:`hardware`: cpu_tdp.csv and power_model.csv (sensors/data)
- :mod:`instances`: cloud_instances.csv (sensors/data; Cloud Carbon Footprint's instance types)
- :mod:`sources`: SOURCES.json and ATTRIBUTION.md; :mod:`common`: what they all share
- :mod:`driver`: build, write, ``--check`` (the command line)
"""

from __future__ import annotations

import sys
from pathlib import Path

# The build writes what the package reads: its row types and name keys come from the package
# itself (importable from the checkout without installing it), so the two cannot drift apart.
# Set here, before any family module imports wattprint.
_SRC = str(Path(__file__).resolve().parents[2] / "src")
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)
