"""The web dashboard (issue 11): pages over one data seam, served without a Node build.

Design

- **One data seam.** Views read only through :class:`.data.DashboardData`: the overview
  (totals over a period with the trend against the period before; by project, experiment,
  component, region and host), the runs table (filters, sort, cursor pages, export) and one
  run (info, summary, records, spans, work units, rescores, provenance; new records since a
  seq for live pages). :class:`.local.LocalStoreData` implements it over the local store's
  read API (:class:`wattprint.store.Repository`); :class:`.server_data.ServerData` implements
  it over the team server's database for one organisation, through the query API's own
  functions (so the pages show the API's figures, de-duplicated totals included). No view
  queries a database.
- **On the team server** (:mod:`.server_routes`, mounted by ``create_app``): the same pages
  under ``/dashboard/orgs/{org_id}/``, each route declaring ``authorize("read")``; a sign-in
  page posting to ``POST /api/v1/login``, an organisation picker, sign-out through
  ``POST /api/v1/logout``. Templates take ``root`` (where the pages are) and ``static``.
- **Rendering.** A small Starlette app (:mod:`.app`; Starlette comes with FastAPI in the
  ``server`` extra) renders Jinja2 templates (``templates/``) server-side; the run page's
  charts are uPlot (MIT, fast with 100,000 points), vendored as
  ``static/uplot-<version>.min.js`` with its licence beside it, plus one small vanilla
  script (``static/run.js``). No CDN, no Node: the package works offline.
- **One formatting module.** :mod:`.fmt` writes every number a page shows (units, four
  significant figures); the live endpoint sends table cells already formatted, so the
  script never rounds a figure itself, and a test can compute what a page must show from the
  read API's figure.
- **Honest pages.** Provenance badges come from what the records carry: measured / sampled
  / modelled per device, live or bundled intensity with basis, scope, gases and year, stale
  flags; gaps in the measurement break the chart lines and are listed; embodied emissions
  and water are shown beside operational emissions, never added. Status comes from
  heartbeats (the read API's effective status); a running run's page polls
  ``/runs/{id}/records.json?since_seq=N`` for new records without a reload.
- **Accessible and responsive.** Labelled controls, tables as the alternative to every
  chart, keyboard navigation with a visible focus ring, text contrast of at least 4.5:1,
  the Okabe–Ito colour-blind-safe palette, light and dark (``prefers-color-scheme``),
  usable at phone width.
- **Local use.** ``wattprint dashboard`` (:mod:`wattprint.cli.dashboard`) serves the app
  over the local store, read-only (GET routes only), on 127.0.0.1 by default; it refuses a
  non-loopback address until authentication comes with the server integration, and the app
  refuses requests whose Host is not a loopback name (DNS rebinding).

Modules: :mod:`.data` (the protocol and its records), :mod:`.local` (the local adapter),
:mod:`.views` (what each page shows), :mod:`.fmt` (numbers), :mod:`.app` (routes, headers),
:mod:`.server_data` and :mod:`.server_routes` (the team server's adapter and routes),
:mod:`.compare` (two to eight runs side by side, curves by elapsed time), :mod:`.tables` (one
table spec written as page cells, CSV and JSON) and :mod:`.exports` (every page's tables).
"""

from __future__ import annotations

__all__ = ["UPLOT_VERSION"]

UPLOT_VERSION = "1.6.32"  # static/uplot-<this>.min.js; app.py reads it from here
