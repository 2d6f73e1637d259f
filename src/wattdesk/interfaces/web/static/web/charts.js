/* WattDesk charts: every element with a data-chart attribute (an ECharts option as JSON) becomes a chart.
 * ECharts is served from our own static files (static/vendor/echarts/, installed by `make vendor`): no CDN.
 * Runs on page load and after every HTMX swap; charts follow the size of their element (responsive). */
(function () {
  "use strict";
  var charts = [];

  /* An axis with "wattdeskUnit": {divisor, suffix} (set by the server, the unit of the `big` filter: 万 / 亿
   * in Chinese, K / M / B in English) gets labels like 12.5万 / 12.5K instead of 125000. */
  function unitLabel(unit) {
    return function (value) {
      if (!unit.divisor || unit.divisor === 1) { return Number(value).toLocaleString(); }
      return Number((value / unit.divisor).toFixed(2)).toString() + unit.suffix;
    };
  }

  function applyUnits(option) {
    ["xAxis", "yAxis"].forEach(function (key) {
      var axes = option[key];
      if (!axes) { return; }
      (Array.isArray(axes) ? axes : [axes]).forEach(function (axis) {
        if (!axis || !axis.wattdeskUnit) { return; }
        axis.axisLabel = axis.axisLabel || {};
        axis.axisLabel.formatter = unitLabel(axis.wattdeskUnit);
        delete axis.wattdeskUnit;
      });
    });
  }

  function init(root) {
    if (typeof window.echarts === "undefined") { return; }
    var nodes = (root || document).querySelectorAll("[data-chart]");
    for (var i = 0; i < nodes.length; i++) {
      var el = nodes[i];
      if (el.dataset.chartReady) { continue; }
      var option;
      try { option = JSON.parse(el.dataset.chart); } catch (e) { continue; }
      applyUnits(option);
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
