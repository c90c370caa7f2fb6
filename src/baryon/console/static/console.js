// Baryon console: follows a running deployment's log by polling its JSON endpoint.
(function () {
  "use strict";
  // The settled deployment's facts (completion time, message) and outputs, read from a fresh copy of this page.
  function refresh() {
    fetch(window.location.pathname, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("status " + response.status); }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        ["deployment-facts", "deployment-outputs"].forEach(function (id) {
          var shown = document.getElementById(id);
          var settled = fresh.getElementById(id);
          if (shown && settled) { shown.replaceWith(document.importNode(settled, true)); }
        });
      })
      .catch(function () {
        var state = document.getElementById("log-state");
        if (state) { state.textContent += " Reload the page for its outputs."; }
      });
  }
  function follow(log) {
    var url = log.getAttribute("data-url");
    var after = parseInt(log.getAttribute("data-after") || "0", 10);
    var state = document.getElementById("log-state");
    function poll() {
      fetch(url + "?after=" + after, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) { throw new Error("status " + response.status); }
          return response.json();
        })
        .then(function (data) {
          if (data.text) {
            log.appendChild(document.createTextNode(data.text));
            log.scrollTop = log.scrollHeight;
          }
          after = data.after;
          log.setAttribute("data-after", String(after));
          if (data.done) {
            log.setAttribute("data-running", "false");
            if (state) { state.textContent = "The deployment ended: " + data.status + "."; }
            var shown = document.getElementById("deployment-status");
            if (shown) { shown.textContent = data.status; }
            // What only a running deployment offers (its cancel button) goes with it.
            document.querySelectorAll(".while-running").forEach(function (element) { element.remove(); });
            refresh();
          } else {
            window.setTimeout(poll, 1000);
          }
        })
        .catch(function () {
          if (state) { state.textContent = "The log stopped updating; reload the page to try again."; }
        });
    }
    poll();
  }
  document.addEventListener("DOMContentLoaded", function () {
    var log = document.getElementById("log");
    if (log && log.getAttribute("data-running") === "true") { follow(log); }
  });
})();
