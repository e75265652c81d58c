"""A report as GitHub-flavoured Markdown: headings, pipe tables, every text escaped."""

from __future__ import annotations

import re

from . import report_text as text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping, Sequence

__all__ = ["escape_md", "render_md"]

# Characters that start emphasis, links, HTML, code or table cells in GitHub Markdown.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~$])")


def escape_md(value: object) -> str:
    """``value`` as literal text in a Markdown paragraph or table cell (one line)."""
    flat = " ".join(str(value).split())
    return _SPECIAL.sub(r"\\\1", flat)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(escape_md(h) for h in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(escape_md(c) for c in row) + " |" for row in rows]
    return lines


def render_md(report: Mapping[str, Any]) -> str:
    out = [f"# {escape_md(text.title(report))}", ""]
    out += _table(("What", "Figure"), text.key_figures(report)) + [""]
    out += ["## Energy by device", ""]
    out += _table(("Component", "Device", "Method", "Energy", "Share", "Band"),
                  text.device_rows(report)) + [""]
    for method in sorted({d["method"] for d in report["energy"]["devices"]}):
        out.append(f"- **{escape_md(method)}**: {escape_md(text.report_meaning(report, method))}")
    out += ["", "## Grid intensity", ""]
    out += _table(("", "Value"), text.intensity_rows(report)) + [""]
    rescores = text.rescore_rows(report)
    if rescores:
        out += ["Rescored with a provider's hourly history (beside the original, never in its "
                "place):", ""]
        out += _table(("Provider", "When", "Emissions", "Intensity"), rescores) + [""]
    out += ["## Equivalents", ""]
    out += _table(("Amounts to", "Factor", "Source", "Year"), text.equivalent_rows(report))
    out += ["", "## Methodology and uncertainty", ""]
    for paragraph in report["methodology"]:
        out += [escape_md(paragraph), ""]
    out += _table(("Applies to", "Band", "Rationale", "Source", "Year"), text.band_rows(report))
    if report["warnings"]:
        out += ["", "## Warnings", ""]
        out += [f"- {escape_md(w)}" for w in report["warnings"]]
    repro = report["reproduce"]
    out += ["", "## Suggested citation", "", f"> {escape_md(report['citation'])}", "",
            "## Reproduce", "",
            "```",
            # a fenced block shows the command as typed: nothing to escape but the fence
            repro["command"].replace("```", "'''"),
            "```", "",
            f"wattprint {escape_md(repro['wattprint_version'])}, store "
            f"{escape_md(repro['store'])}, run {escape_md(repro['run_id'])}."]
    return "\n".join(out) + "\n"
