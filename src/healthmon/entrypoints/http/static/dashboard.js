// Shared by every page: turns <time datetime> elements into "3 min ago" (the exact time stays in the title).
"use strict";
(function () {
  function ago(date, now) {
    var seconds = Math.round((now - date) / 1000);
    var future = seconds < 0;
    seconds = Math.abs(seconds);
    var text;
    if (seconds < 60) { text = seconds + " s"; }
    else if (seconds < 3600) { text = Math.floor(seconds / 60) + " min"; }
    else if (seconds < 86400) { text = Math.floor(seconds / 3600) + " h"; }
    else { text = Math.floor(seconds / 86400) + " d"; }
    return future ? "in " + text : text + " ago";
  }
  function humanise(root) {
    var now = Date.now();
    (root || document).querySelectorAll("time[datetime]").forEach(function (element) {
      var date = new Date(element.getAttribute("datetime"));
      if (isNaN(date.getTime())) { return; }
      element.title = date.toISOString();
      element.textContent = ago(date, now);
    });
  }
  // As templating.py's percent and milliseconds filters.
  function percent(fraction) { return fraction === null ? "—" : (fraction * 100).toFixed(2) + " %"; }
  function milliseconds(value) { return value === null ? "—" : value.toFixed(0) + " ms"; }
  window.healthmon = { ago: ago, humanise: humanise, percent: percent, milliseconds: milliseconds };
  humanise(document);
  setInterval(function () { humanise(document); }, 10000);
})();
