"""A report as one self-contained HTML file: inline CSS, inline SVG charts, no script.

Nothing is loaded from anywhere: the page's own Content-Security-Policy (``default-src
'none'``) forbids every fetch, so a browser opening it offline shows all of it. Light and dark
follow ``prefers-color-scheme``; charts have titles and descriptions and the tables carry the
same figures as text. Every string from the run (project names, sources...) is escaped.
"""

from __future__ import annotations

from html import escape

from . import report_svg
from . import report_text as text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping, Sequence

__all__ = ["render_html"]

# Okabe-Ito colours: GPU blue, CPU vermillion, RAM bluish green, other reddish purple; the dark
# scheme takes the palette's lighter member of each hue.
CSS = """
:root { color-scheme: light dark; --fg: #1b1b1b; --bg: #ffffff; --muted: #555555;
  --rule: #d0d0d0; --panel: #f4f4f4; --gpu: #0072B2; --cpu: #D55E00; --ram: #009E73;
  --other: #CC79A7; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #ececec; --bg: #161616; --muted: #b5b5b5; --rule: #444444; --panel: #222222;
    --gpu: #56B4E9; --cpu: #E69F00; --ram: #2fc79b; --other: #e29cc6; }
}
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg);
  background: var(--bg); margin: 0; }
main { max-width: 60rem; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.6rem; margin: 0 0 1rem; overflow-wrap: anywhere; }
h2 { font-size: 1.25rem; margin: 2rem 0 0.75rem; border-bottom: 1px solid var(--rule); }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0 1rem; font-size: 0.95rem; }
th, td { text-align: left; vertical-align: top; padding: 0.35rem 0.6rem;
  border-bottom: 1px solid var(--rule); }
/* long sources and addresses may break anywhere; short figures never break */
td.text { overflow-wrap: anywhere; }
td.num, td.nowrap { white-space: nowrap; }
th[scope="row"] { width: 30%; max-width: 14rem; font-weight: 600; }
@media (max-width: 40rem) { main { padding: 0.75rem; } th, td { padding: 0.3rem 0.4rem; } }
td.num { text-align: right; }
caption { text-align: left; color: var(--muted); padding-bottom: 0.25rem; }
blockquote { margin: 0; padding: 0.75rem 1rem; background: var(--panel);
  border-left: 4px solid var(--gpu); }
pre { background: var(--panel); padding: 0.75rem; white-space: pre-wrap; }
pre code, p code { overflow-wrap: anywhere; }
.chart { width: 100%; height: auto; max-width: 640px; display: block; margin: 0.5rem 0 1rem; }
.chart .grid { stroke: var(--rule); stroke-width: 1; }
.chart .axis { stroke: var(--muted); stroke-width: 1; }
.chart .axis-label { fill: var(--fg); font-size: 12px; }
.chart .line { fill: none; stroke-width: 2.5; }
.line.series-gpu { stroke: var(--gpu); } .line.series-cpu { stroke: var(--cpu); }
.line.series-ram { stroke: var(--ram); } .line.series-other { stroke: var(--other); }
.bar.series-gpu, .swatch.series-gpu { fill: var(--gpu); }
.bar.series-cpu, .swatch.series-cpu { fill: var(--cpu); }
.bar.series-ram, .swatch.series-ram { fill: var(--ram); }
.bar.series-other, .swatch.series-other { fill: var(--other); }
.note { color: var(--muted); }
.scroll { overflow-x: auto; }
.scroll:focus-visible { outline: 2px solid var(--gpu); }
dt { font-weight: 600; }
"""
CSP = "default-src 'none'; style-src 'unsafe-inline'"


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _rows_table(caption: str, rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(f'<tr><th scope="row">{_e(k)}</th><td class="text">{_e(v)}</td></tr>'
                   for k, v in rows)
    return f"<table><caption>{_e(caption)}</caption><tbody>{body}</tbody></table>"


def _table(caption: str, header: Sequence[str], rows: Sequence[Sequence[str]],
           numeric: Sequence[int] = (), nowrap: Sequence[int] = ()) -> str:
    """A table; ``numeric`` columns right-aligned, they and ``nowrap`` ones kept on one line,
    the others free to wrap anywhere (long sources and addresses)."""
    def kind(i: int) -> str:
        return "num" if i in numeric else "nowrap" if i in nowrap else "text"

    head = "".join(f'<th scope="col">{_e(h)}</th>' for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="{kind(i)}">{_e(c)}</td>' for i, c in enumerate(row))
        + "</tr>" for row in rows)
    # on a narrow screen the table scrolls sideways in its own focusable region, not the page
    return (f'<div class="scroll" role="region" tabindex="0" aria-label="{_e(caption)}">'
            f"<table><caption>{_e(caption)}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></div>")


def render_html(report: Mapping[str, Any]) -> str:
    title = text.title(report)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{CSS}</style></head>",
        f"<body><main><h1>{_e(title)}</h1>",
        _rows_table("Key figures", text.key_figures(report)),
        "<h2>Energy by device</h2>",
        report_svg.energy_bars(report["energy"]["by_component"]),
        _table("Energy by device, with how each was obtained",
               ("Component", "Device", "Method", "Energy", "Share", "Band"),
               text.device_rows(report), numeric=(3, 4, 5), nowrap=(0, 1, 2)),
        "<dl>",
    ]
    for method in sorted({d["method"] for d in report["energy"]["devices"]}):
        parts.append(f"<dt>{_e(method)}</dt><dd>{_e(text.report_meaning(report, method))}</dd>")
    parts += [
        "</dl>",
        "<h2>Power over time</h2>",
        report_svg.power_chart(report["series"]),
        '<p class="note">Mean power of each record interval, per component.</p>',
        "<h2>Grid intensity</h2>",
        _rows_table("The intensity the emissions use", text.intensity_rows(report)),
    ]
    rescores = text.rescore_rows(report)
    if rescores:
        parts.append(_table("Rescored with a provider's hourly history (beside the original, "
                            "never in its place)", ("Provider", "When", "Emissions", "Intensity"),
                            rescores, numeric=(2, 3), nowrap=(0, 1)))
    parts += ["<h2>Equivalents</h2>",
              _table("What the operational emissions amount to, with each factor's source",
                     ("Amounts to", "Factor", "Source", "Year"), text.equivalent_rows(report),
                     nowrap=(1, 3)),
              "<h2>Methodology and uncertainty</h2>"]
    parts += [f"<p>{_e(p)}</p>" for p in report["methodology"]]
    parts.append(_table("The uncertainty bands used (stated assumptions)",
                        ("Applies to", "Band", "Rationale", "Source", "Year"),
                        text.band_rows(report), nowrap=(0, 1, 4)))
    if report["warnings"]:
        parts.append("<h2>Warnings</h2><ul>" + "".join(
            f"<li>{_e(w)}</li>" for w in report["warnings"]) + "</ul>")
    repro = report["reproduce"]
    parts += [
        "<h2>Suggested citation</h2>",
        f"<blockquote><p>{_e(report['citation'])}</p></blockquote>",
        "<h2>Reproduce</h2>",
        f"<pre><code>{_e(repro['command'])}</code></pre>",
        f"<p>wattprint {_e(repro['wattprint_version'])}, store <code>{_e(repro['store'])}"
        f"</code>, run <code>{_e(repro['run_id'])}</code>.</p>",
        "</main></body></html>",
    ]
    return "\n".join(parts) + "\n"
