/* WattDesk charts: every element with a data-chart attribute (an ECharts option as JSON) becomes a chart.
 * ECharts is served from our own static files (static/vendor/echarts/, installed by `make vendor`): no CDN.
 * Runs on page load and after every HTMX swap; charts follow the size of their element (responsive). */
(function () {
  "use strict";
  var charts = [];

  function init(root) {
    if (typeof window.echarts === "undefined") { return; }
    var nodes = (root || document).querySelectorAll("[data-chart]");
    for (var i = 0; i < nodes.length; i++) {
      var el = nodes[i];
      if (el.dataset.chartReady) { continue; }
      var option;
      try { option = JSON.parse(el.dataset.chart); } catch (e) { continue; }
      var chart = window.echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(option);
      el.dataset.chartReady = "1";
      charts.push(chart);
    }
  }

  window.addEventListener("resize", function () {
    charts = charts.filter(function (c) { return !c.isDisposed(); });
    charts.forEach(function (c) { c.resize(); });
  });
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSwap", function (evt) { init(evt.target); });
  window.WattDeskCharts = { init: init };
})();
