/* The comparison page: power and cumulative energy of each run against the time elapsed since
   its start, one uPlot series per run (colour and dash pattern from the page's list). The
   figures arrive in the page's JSON block; uPlot.join aligns the runs' x values (a run's line
   spans the other runs' x values; its own nulls, a hole in its measurement, stay gaps). */
(function () {
  "use strict";
  var block = document.getElementById("compare-data");
  if (!block || typeof uPlot === "undefined") { return; }
  var data = JSON.parse(block.textContent);
  var css = getComputedStyle(document.documentElement);
  function prop(name) { return css.getPropertyValue(name).trim(); }
  var fg = prop("--fg"), grid = prop("--grid");

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function clock(s) {  // elapsed seconds as h:mm:ss (d h:mm past a day)
    if (s == null) { return "–"; }
    var whole = Math.round(s), days = Math.floor(whole / 86400);
    var h = Math.floor((whole % 86400) / 3600), m = Math.floor((whole % 3600) / 60);
    var text = h + ":" + pad(m) + ":" + pad(whole % 60);
    return days ? days + " d " + text : text;
  }
  function joined(key, scale) {
    var table = uPlot.join(data.runs.map(function (run) {
      return [run.x, run[key].map(function (y) { return y == null ? null : y * scale; })];
    }));
    // A run's hole (its null) lasts until its next point: the other runs' x values inside
    // it are nulls for this run too, or its line would be drawn across the hole from there.
    for (var s = 1; s < table.length; s++) {
      var column = table[s], inHole = false;
      for (var i = 0; i < column.length; i++) {
        if (column[i] === null) { inHole = true; }
        else if (column[i] === undefined) { if (inHole) { column[i] = null; } }
        else { inHole = false; }
      }
    }
    return table;
  }
  function series() {
    return [{ label: "Elapsed", value: function (u, x) { return clock(x); } }].concat(
      data.runs.map(function (run) {
        return { label: run.label, stroke: prop("--run-" + run.index) || "#777", width: 2,
                 dash: run.dash, points: { show: false } };
      }));
  }
  function width(el) { return Math.max(280, el.clientWidth); }
  function make(id, label, key, scale, height) {
    var el = document.getElementById(id);
    return new uPlot({
      width: width(el), height: height, scales: { x: { time: false } },
      axes: [{ stroke: fg, grid: { stroke: grid }, label: "elapsed (h:mm:ss)", size: 50,
               values: function (u, splits) { return splits.map(clock); } },
             { stroke: fg, grid: { stroke: grid }, label: label, size: 60 }],
      series: series(), legend: { live: true }, cursor: { drag: { x: true, y: false } }
    }, joined(key, scale), el);
  }
  var plots = [make("chart-power", "W", "power_w", 1, 260),
               make("chart-energy", "Wh", "cumulative_energy_j", 1 / 3600, 220)];
  window.addEventListener("resize", function () {
    plots.forEach(function (p) { p.setSize({ width: width(p.root.parentNode), height: p.height }); });
  });
  document.documentElement.dataset.chartsDrawn = String(plots.length);
  document.documentElement.dataset.compareSeries = String(plots[0].series.length - 1);
})();
