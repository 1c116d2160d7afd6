// A server's latency chart (uPlot): the last 24 h from its requests, one point per probe; 7 and 30
// days from its hourly and daily statistics (p50 and p95 of each bucket).
"use strict";
(function () {
  var target = document.getElementById("latency-chart");
  if (!target || typeof uPlot === "undefined") { return; }
  var status = document.getElementById("chart-status");
  var WINDOWS = { "24h": { hours: 24 }, "7d": { hours: 24 * 7, bucket: "hour" }, "30d": { hours: 24 * 30, bucket: "day" } };
  var MAX_PAGES = 10;
  var chart = null;

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (response) {
      if (response.status === 401) {
        window.location.assign("/ui/sign-in?next=" + encodeURIComponent(location.pathname));
        throw new Error("signed out");
      }
      if (!response.ok) { var error = new Error("HTTP " + response.status); error.status = response.status; throw error; }
      return response.json();
    });
  }

  // Every request of the window, newest first, following the cursor for at most MAX_PAGES pages.
  function requestsSince(since) {
    var items = [];
    function page(cursor, left) {
      var url = target.dataset.requests + "?limit=1000&since=" + encodeURIComponent(since.toISOString());
      if (cursor) { url += "&cursor=" + encodeURIComponent(cursor); }
      return getJson(url).then(function (data) {
        items = items.concat(data.items);
        return data.next_cursor && left > 1 ? page(data.next_cursor, left - 1) : items;
      });
    }
    return page(null, MAX_PAGES);
  }

  function probesData(items) {
    var xs = [], ok = [], failed = [];
    items.slice().reverse().forEach(function (item) {
      xs.push(new Date(item.started_at).getTime() / 1000);
      ok.push(item.success ? item.latency_ms : null);
      failed.push(item.success ? null : item.latency_ms);
    });
    return {
      data: [xs, ok, failed],
      series: [
        {},
        { label: "latency (ms)", stroke: "#1f5fbf", width: 1, spanGaps: false, points: { show: xs.length < 200 } },
        { label: "failed (ms)", stroke: "#d9463a", width: 0, points: { show: true, size: 5, fill: "#d9463a" } },
      ],
    };
  }

  function bucketsData(stats) {
    var xs = [], p50 = [], p95 = [];
    stats.buckets.forEach(function (bucket) {
      xs.push(new Date(bucket.from).getTime() / 1000);
      p50.push(bucket.latency_ms ? bucket.latency_ms.p50 : null);
      p95.push(bucket.latency_ms ? bucket.latency_ms.p95 : null);
    });
    return {
      data: [xs, p50, p95],
      series: [{}, { label: "p50 (ms)", stroke: "#1f5fbf", width: 1 }, { label: "p95 (ms)", stroke: "#b86e00", width: 1 }],
    };
  }

  function draw(name, prepared, from, to) {
    if (chart) { chart.destroy(); chart = null; }
    var width = Math.max(320, target.clientWidth || 800);
    chart = new uPlot({
      width: width,
      height: 260,
      series: prepared.series,
      scales: { x: { time: true, min: from.getTime() / 1000, max: to.getTime() / 1000 } },
      axes: [{}, { label: "ms" }],
    }, prepared.data, target);
    target.dataset.points = String(prepared.data[0].length);
    target.dataset.window = name;
  }

  function show(name) {
    var window_ = WINDOWS[name];
    var to = new Date();
    var from = new Date(to.getTime() - window_.hours * 3600 * 1000);
    status.textContent = "loading…";
    var loading;
    if (!window_.bucket) {
      loading = requestsSince(from).then(probesData);
    } else {
      var url = target.dataset.stats + "?bucket=" + window_.bucket + "&from=" + encodeURIComponent(from.toISOString()) +
        "&to=" + encodeURIComponent(to.toISOString());
      loading = getJson(url).then(bucketsData);
    }
    loading.then(function (prepared) {
      draw(name, prepared, from, to);
      status.textContent = prepared.data[0].length ? "" : "No data in this window.";
    }).catch(function (error) {
      status.textContent = "Could not load the chart (" + error.message + ").";
    });
  }

  document.querySelectorAll(".windows button").forEach(function (button) {
    button.addEventListener("click", function () {
      document.querySelectorAll(".windows button").forEach(function (other) { other.classList.remove("selected"); });
      button.classList.add("selected");
      show(button.dataset.window);
    });
  });
  show("24h");
})();
