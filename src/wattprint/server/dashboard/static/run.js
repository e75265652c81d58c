/* The run page: uPlot charts from the page's JSON block, and live records for a running run.
   Numbers in tables arrive formatted by the server (one formatting module); this script only
   places them. Vanilla JS, no build step. */
(function () {
  "use strict";
  var block = document.getElementById("run-data");
  if (!block || typeof uPlot === "undefined") { return; }
  var data = JSON.parse(block.textContent);
  var comps = data.components;
  var css = getComputedStyle(document.documentElement);
  function colour(name) { return css.getPropertyValue("--c-" + name).trim() || "#777"; }
  var fg = css.getPropertyValue("--fg").trim(), grid = css.getPropertyValue("--grid").trim();

  // Series columns: x (end of each record, Unix s), watts per component, total, Wh, g/kWh.
  // A long run arrives summed per time bucket: each point's records' lowest and highest power
  // (min/max) draw a band around the mean; "gap" marks a point that follows a hole.
  var banded = "min_power_w" in data.columns;
  var cols = { x: [], total: [], cum: [], intensity: [], min: [], max: [] };
  comps.forEach(function (c) { cols[c] = []; });
  var cumJ = 0, lastEnd = null;

  function hole() {  // a null breaks the line: the gap shows on the time axis
    cols.x.push(lastEnd + 1e-3);
    cols.total.push(null); cols.cum.push(null); cols.intensity.push(null);
    cols.min.push(null); cols.max.push(null);
    comps.forEach(function (c) { cols[c].push(null); });
  }
  function add(r) {
    var end = r.start_s + r.duration_s;
    if (lastEnd !== null && (r.gap ||
        r.start_s - lastEnd > 0.5 * Math.max(r.duration_s, 1e-9))) { hole(); }
    var s = r.duration_s > 0 ? r.duration_s : null;
    cumJ += r.energy_j;
    cols.x.push(end);
    comps.forEach(function (c) { cols[c].push(s ? r[c + "_energy_j"] / s : null); });
    cols.total.push(s ? r.energy_j / s : null);
    cols.min.push(r.min_power_w == null ? null : r.min_power_w);
    cols.max.push(r.max_power_w == null ? null : r.max_power_w);
    cols.cum.push(cumJ / 3600);
    cols.intensity.push(r.intensity_g_per_kwh);
    lastEnd = end;
  }
  var columns = data.columns, names = Object.keys(columns);
  for (var i = 0; i < columns.seq.length; i++) {
    var r = {};
    names.forEach(function (name) { r[name] = columns[name][i]; });
    add(r);
  }

  // 24-hour UTC labels, as the tables write times
  var span = cols.x.length ? cols.x[cols.x.length - 1] - cols.x[0] : 0;
  var tick = uPlot.fmtDate(span > 86400 ? "{MM}-{DD} {HH}:{mm}" : "{HH}:{mm}:{ss}");
  var full = uPlot.fmtDate("{YYYY}-{MM}-{DD} {HH}:{mm}:{ss} UTC");
  function ticks(u, splits) { return splits.map(function (v) { return tick(utc(v)); }); }
  function axes(label) {
    return [{ stroke: fg, grid: { stroke: grid }, values: ticks, size: 40 },
            { stroke: fg, grid: { stroke: grid }, label: label, size: 60 }];
  }
  // The axis in UTC, as every time the dashboard writes (a team spans time zones).
  function utc(ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); }
  function width(el) { return Math.max(280, el.clientWidth); }
  function make(id, label, series, values, height, bands) {
    var el = document.getElementById(id);
    var opts = { width: width(el), height: height, axes: axes(label), tzDate: utc,
                 series: [{ label: "End (UTC)", value: function (u, v) {
                   return v == null ? "–" : full(utc(v)); } }].concat(series),
                 legend: { live: true }, bands: bands || [],
                 cursor: { drag: { x: true, y: false } } };
    var plot = new uPlot(opts, [cols.x].concat(values()), el);
    plot._values = values;
    return plot;
  }
  var lines = comps.map(function (c) {
    return { label: c.toUpperCase() + " W", stroke: colour(c), width: 2 };
  });
  lines.push({ label: "Total W", stroke: colour("total"), width: 2, dash: [6, 4] });
  var bands = [];
  if (banded) {  // series indexes: 0 x, then components, total, lowest, highest
    lines.push({ label: "Lowest W", stroke: colour("total") + "66", width: 1 });
    lines.push({ label: "Highest W", stroke: colour("total") + "66", width: 1 });
    bands.push({ series: [comps.length + 3, comps.length + 2], fill: colour("total") + "22" });
  }
  var plots = [
    make("chart-power", "W", lines, function () {
      return comps.map(function (c) { return cols[c]; }).concat(
        [cols.total], banded ? [cols.min, cols.max] : []);
    }, 260, bands),
    make("chart-energy", "Wh", [{ label: "Energy Wh", stroke: colour("energy"), width: 2,
                                  fill: colour("energy") + "33" }],
         function () { return [cols.cum]; }, 200),
    make("chart-intensity", "gCO₂e/kWh", [{ label: "gCO₂e/kWh", stroke: colour("intensity"),
                                            width: 2 }],
         function () { return [cols.intensity]; }, 160)
  ];
  function redraw() {
    plots.forEach(function (p) { p.setData([cols.x].concat(p._values())); });
  }
  window.addEventListener("resize", function () {
    plots.forEach(function (p) { p.setSize({ width: width(p.root.parentNode), height: p.height }); });
  });
  document.documentElement.dataset.chartsDrawn = String(plots.length);
  // when the charts were drawn, for benchmarks/bench_dashboard_*.py (Performance API)
  if (window.performance && performance.mark) { performance.mark("charts-drawn"); }

  // -- live: poll for records after the last seq while the run is running -----------------
  if (data.status !== "running") { return; }
  var since = data.last_seq, body = document.getElementById("records-body");
  var status = document.getElementById("run-status");
  // at most every 2 s: the endpoint reads only records after the last seq
  var every = Math.min(Math.max(1000, (data.interval_s || 2) * 1000), 2000);
  function row(r) {
    var tr = document.createElement("tr");
    tr.dataset.seq = r.seq;
    var cells = [r.text.time, r.text.duration].concat(
      comps.map(function (c) { return r.text[c + "_w"]; }),
      [r.text.total_w, r.text.energy, r.text.emissions, r.text.intensity, r.text.gaps]);
    cells.forEach(function (text, i) {
      var td = document.createElement("td");
      td.textContent = text;
      if (i > 0 && i < cells.length - 1) { td.className = "num"; }
      tr.appendChild(td);
    });
    body.appendChild(tr);
  }
  // "How much will it cost?": the server writes each cell (prediction_view.py); placed here
  function showPrediction(p) {
    document.querySelectorAll("[data-pred]").forEach(function (el) {
      var text = p.text[el.dataset.pred];
      if (text !== undefined) { el.textContent = text; }
    });
    var none = document.getElementById("prediction-none");
    var figures = document.getElementById("prediction-figures");
    if (none) { none.hidden = true; }
    if (figures) { figures.hidden = false; }
  }
  function poll() {
    var url = data.live_url + (since === null ? "" : "?since_seq=" + encodeURIComponent(since));
    fetch(url, { headers: { accept: "application/json" } }).then(function (res) {
      if (!res.ok) { throw new Error("HTTP " + res.status); }
      return res.json();
    }).then(function (live) {
      // the table holds every record only while the run is short; then it is not extended
      var complete = body.dataset.complete === "true";
      live.records.forEach(function (r) { add(r); if (complete) { row(r); } });
      if (live.records.length) { redraw(); }
      if (live.prediction) { showPrediction(live.prediction); }
      since = live.last_seq;
      status.textContent = live.status;
      status.className = "status s-" + live.status;
      if (live.status === "running" || live.more) {
        setTimeout(poll, live.more ? 0 : every);
      } else {
        var badge = document.getElementById("live-badge");
        if (badge) { badge.textContent = "run ended: reload for its final totals"; }
      }
    }).catch(function () { setTimeout(poll, every * 2); });
  }
  setTimeout(poll, every);
})();
