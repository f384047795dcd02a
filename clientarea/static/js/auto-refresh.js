/* A page that waits for something (a payment's confirmation) loads its next version after a few
   seconds, and the visitor can stop that (WCAG 2.2.1: no timed refresh the person cannot turn off).
   The page marks itself with data-auto-refresh-url and data-auto-refresh-seconds. Without
   JavaScript the page falls back to a <noscript> meta refresh (a bounded number of polls) and
   its "Refresh now" link. */
(function () {
  "use strict";
  var box = document.querySelector("[data-auto-refresh-url]");
  if (!box) {
    return;
  }
  var seconds = parseInt(box.getAttribute("data-auto-refresh-seconds"), 10) || 5;
  var timer = window.setTimeout(function () {
    window.location.assign(box.getAttribute("data-auto-refresh-url"));
  }, seconds * 1000);
  var stop = document.getElementById("stop-auto-refresh");
  var stopped = document.getElementById("auto-refresh-stopped");
  if (!stop) {
    return;
  }
  stop.hidden = false;
  stop.addEventListener("click", function () {
    window.clearTimeout(timer);
    stop.hidden = true;
    if (stopped) {
      stopped.hidden = false;
    }
  });
})();
