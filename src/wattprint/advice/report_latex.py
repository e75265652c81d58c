"""A report as LaTeX: a standalone document for pdflatex, or (``fragment``) one table to paste
into a paper.

Only packages of Debian's texlive-latex-base are used (inputenc, geometry, array, longtable),
with the default OT1 font encoding, so a minimal TeX install compiles it. Every string from the
run goes through :func:`escape_latex`: LaTeX's special characters become their text commands,
and characters the default fonts cannot set are spelled as their code point rather than
breaking the build.
"""

from __future__ import annotations

import re
import unicodedata

from . import report_text as text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping, Sequence

__all__ = ["escape_latex", "render_latex"]

_SPECIAL = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "_": r"\_", "%": r"\%", "&": r"\&",
    "#": r"\#", "$": r"\$", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}", '"': "''",
    # a break point after each slash, so long paths and addresses wrap in narrow columns
    "/": r"/\allowbreak{}",
    "\u2013": "--", "\u2014": "---", "\u2018": "`", "\u2019": "'", "\u201c": "``",
    "\u201d": "''", "\u00a0": "~", "\u00d7": r"$\times$", "\u00b1": r"$\pm$",
}
# Letters utf8 inputenc sets in the default OT1 encoding (accents composed, or OT1's own
# glyphs: ß, æ, ø, å, œ).
_LATIN = set("àâäáãçéèêëíìîïñóòôöõúùûüýÿÀÂÄÁÃÇÉÈÊËÍÌÎÏÑÓÒÔÖÕÚÙÛÜÝßæÆøØåÅœŒ")


def _char(ch: str) -> str:
    if ch in _SPECIAL:
        return _SPECIAL[ch]
    if ch.isascii():
        return ch if ch.isprintable() else " "
    if ch in _LATIN:
        return ch
    plain = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
    if plain and plain.isprintable():
        return "".join(_char(c) for c in plain)
    return f"[U+{ord(ch):04X}]"


def escape_latex(value: object) -> str:
    """``value`` as literal text in LaTeX's text mode (paragraphs and table cells)."""
    return "".join(_char(ch) for ch in " ".join(str(value).split()))


def _rows(rows: Sequence[Sequence[str]]) -> str:
    return "\n".join(" & ".join(escape_latex(c) for c in row) + r" \\ \hline" for row in rows)


def _longtable(spec: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = " & ".join(r"\textbf{" + escape_latex(h) + "}" for h in header) + r" \\ \hline"
    return (f"\\begin{{longtable}}{{{spec}}}\n\\hline\n{head}\n\\endhead\n"
            f"{_rows(rows)}\n\\end{{longtable}}")


def _key_table(report: Mapping[str, Any]) -> str:
    return _longtable("|P{0.26\\textwidth}|P{0.66\\textwidth}|", ("What", "Figure"),
                      text.key_figures(report))


def _fragment(report: Mapping[str, Any]) -> str:
    run = report["run"]
    rows = text.key_figures(report)
    return "\n".join([
        "% wattprint report: paste into a document (needs no package beyond LaTeX's own)",
        r"\begin{table}[htbp]",
        r"\centering\small",
        r"\begin{tabular}{|p{0.28\textwidth}|p{0.64\textwidth}|}",
        r"\hline",
        _rows(rows),
        r"\end{tabular}",
        r"\caption{" + escape_latex(
            f"Energy and emissions of {text.which(report)} "
            f"({run['project']}/{run['experiment']}), measured with wattprint.") + "}",
        # a label takes letters, digits and - only: a job id may hold anything
        r"\label{tab:wattprint-" + re.sub(r"[^A-Za-z0-9-]", "-", text.which(report).split()[1])
        + "}",
        r"\end{table}",
    ]) + "\n"


def render_latex(report: Mapping[str, Any], *, fragment: bool = False) -> str:
    if fragment:
        return _fragment(report)
    repro = report["reproduce"]
    parts = [
        r"\documentclass[11pt,a4paper]{article}",
        r"\usepackage[utf8]{inputenc}",
        r"\usepackage[margin=2.2cm]{geometry}",
        r"\usepackage{array,longtable}",
        # ragged-right paragraph columns: justified text in narrow cells leaves wide gaps
        r"\newcolumntype{P}[1]{>{\raggedright\arraybackslash}p{#1}}",
        r"\setlength{\parindent}{0pt}\setlength{\parskip}{0.6em}",
        r"\title{" + escape_latex(text.title(report)) + "}",
        r"\author{wattprint " + escape_latex(repro["wattprint_version"]) + "}",
        r"\date{" + escape_latex(report["run"]["started"]) + "}",
        r"\begin{document}",
        r"\maketitle",
        r"\section*{Key figures}",
        _key_table(report),
        r"\section*{Energy by device}",
        _longtable("|l|l|l|r|r|r|", ("Component", "Device", "Method", "Energy", "Share", "Band"),
                   text.device_rows(report)),
        r"\begin{description}",
    ]
    for method in sorted({d["method"] for d in report["energy"]["devices"]}):
        parts.append(r"\item[" + escape_latex(method) + "] "
                     + escape_latex(text.report_meaning(report, method)))
    parts += [r"\end{description}", r"\section*{Grid intensity}",
              _longtable("|P{0.26\\textwidth}|P{0.66\\textwidth}|", ("", "Value"),
                         text.intensity_rows(report))]
    rescores = text.rescore_rows(report)
    if rescores:
        parts += ["Rescored with a provider's hourly history (beside the original, never in "
                  "its place):",
                  _longtable("|l|l|r|r|", ("Provider", "When", "Emissions", "Intensity"),
                             rescores)]
    parts += [r"\section*{Equivalents}",
              _longtable("|P{0.3\\textwidth}|P{0.14\\textwidth}|P{0.38\\textwidth}|l|",
                         ("Amounts to", "Factor", "Source", "Year"), text.equivalent_rows(report)),
              r"\section*{Methodology and uncertainty}"]
    parts += [escape_latex(p) + "\n" for p in report["methodology"]]
    parts.append("{\\small\n" + _longtable(
        "|P{0.17\\textwidth}|P{0.07\\textwidth}|P{0.33\\textwidth}|P{0.22\\textwidth}|l|",
        ("Applies to", "Band", "Rationale", "Source", "Year"), text.band_rows(report)) + "}")
    if report["warnings"]:
        parts.append(r"\section*{Warnings}" + "\n" + r"\begin{itemize}")
        parts += [r"\item " + escape_latex(w) for w in report["warnings"]]
        parts.append(r"\end{itemize}")
    parts += [
        r"\section*{Suggested citation}",
        r"\begin{quote}" + escape_latex(report["citation"]) + r"\end{quote}",
        r"\section*{Reproduce}",
        # a long --equivalents list may break after each comma
        r"\begin{flushleft}\texttt{" + escape_latex(repro["command"]).replace(
            ",", r",\allowbreak{}") + r"}\end{flushleft}",
        escape_latex(f"wattprint {repro['wattprint_version']}, store {repro['store']}, "
                     f"run {repro['run_id']}."),
        r"\end{document}",
    ]
    return "\n".join(parts) + "\n"
