// The overview refreshes itself: every few seconds it fetches the overview's JSON and redraws the
// counts and the table in place (no reload). Filtering and paging do the same, and keep the URL.
"use strict";
(function () {
  var root = document.getElementById("overview");
  if (!root) { return; }
  var source = root.dataset.source;
  var serverPath = root.dataset.serverPath;
  var refreshMs = parseInt(root.dataset.refreshMs, 10) || 5000;
  var form = document.getElementById("filter");
  var health = document.getElementById("health");
  var search = document.getElementById("q");
  var page = document.getElementById("page");
  var tbody = document.getElementById("servers");
  var status = document.getElementById("refresh-status");
  var timer = null;
  var inFlight = null;

  function query() {
    var params = new URLSearchParams();
    if (health.value) { params.set("health", health.value); }
    if (search.value) { params.set("q", search.value); }
    if (page.value && page.value !== "1") { params.set("page", page.value); }
    return params.toString();
  }

  function cell(row, content) {
    var td = document.createElement("td");
    if (typeof content === "string") { td.textContent = content; } else if (content) { td.appendChild(content); }
    row.appendChild(td);
    return td;
  }

  function timeElement(iso, empty) {
    if (!iso) { return empty; }
    var element = document.createElement("time");
    element.setAttribute("datetime", iso);
    element.textContent = iso;
    return element;
  }

  function healthElement(state) {
    var span = document.createElement("span");
    span.className = "health health-" + state;
    span.textContent = state;
    return span;
  }

  function strip(recent) {
    var span = document.createElement("span");
    span.className = "strip";
    recent.forEach(function (ok) {
      var mark = document.createElement("i");
      mark.className = ok ? "ok" : "fail";
      span.appendChild(mark);
    });
    return span;
  }

  function renderRow(item) {
    var row = document.createElement("tr");
    row.dataset.id = String(item.id);
    var link = document.createElement("a");
    link.href = serverPath + "/" + item.id;
    link.textContent = item.name;
    cell(row, link);
    cell(row, item.url).className = "url";
    cell(row, healthElement(item.health));
    cell(row, timeElement(item.health_changed_at, "—"));
    cell(row, window.healthmon.percent(item.uptime_24h)).className = "number";
    cell(row, window.healthmon.percent(item.uptime_30d)).className = "number";
    cell(row, window.healthmon.milliseconds(item.p95_24h_ms)).className = "number";
    cell(row, timeElement(item.last_checked_at, "never"));
    cell(row, strip(item.recent));
    return row;
  }

  function pageLink(id, target, visible) {
    var link = document.getElementById(id);
    link.hidden = !visible;
    link.dataset.page = String(target);
  }

  function render(data) {
    ["healthy", "unhealthy", "unknown"].forEach(function (state) {
      document.getElementById("count-" + state).textContent = String(data.counts[state]);
    });
    document.getElementById("count-total").textContent = String(data.total);
    var rows = document.createDocumentFragment();
    data.items.forEach(function (item) { rows.appendChild(renderRow(item)); });
    tbody.replaceChildren(rows);
    document.getElementById("empty").hidden = data.items.length > 0;
    document.getElementById("page-of").textContent =
      "page " + data.page + " of " + data.pages + " · " + data.matching + " servers";
    pageLink("previous", data.page - 1, data.page > 1);
    pageLink("next", data.page + 1, data.page < data.pages);
    window.healthmon.humanise(tbody);
  }

  function refresh() {
    clearTimeout(timer);
    if (inFlight) { inFlight.abort(); }
    inFlight = new AbortController();
    var params = query();
    fetch(source + (params ? "?" + params : ""), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      signal: inFlight.signal,
    }).then(function (response) {
      if (response.status === 401) {
        window.location.assign("/ui/sign-in?next=" + encodeURIComponent(location.pathname + location.search));
        return null;
      }
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    }).then(function (data) {
      if (!data) { return; }
      render(data);
      status.textContent = "updated " + new Date().toLocaleTimeString();
      root.dataset.refreshed = String(Date.now());
    }).catch(function (error) {
      if (error.name === "AbortError") { return; }
      status.textContent = "could not refresh (" + error.message + "); retrying";
    }).finally(function () {
      timer = setTimeout(refresh, refreshMs);
    });
  }

  function changed() {
    page.value = "1";
    var params = query();
    history.replaceState(null, "", "/" + (params ? "?" + params : ""));
    refresh();
  }

  var typing = null;
  search.addEventListener("input", function () { clearTimeout(typing); typing = setTimeout(changed, 250); });
  health.addEventListener("change", changed);
  form.addEventListener("submit", function (event) { event.preventDefault(); changed(); });
  ["previous", "next"].forEach(function (id) {
    document.getElementById(id).addEventListener("click", function (event) {
      event.preventDefault();
      page.value = event.currentTarget.dataset.page || page.value;
      var params = query();
      history.replaceState(null, "", "/" + (params ? "?" + params : ""));
      refresh();
    });
  });
  timer = setTimeout(refresh, refreshMs);
})();
