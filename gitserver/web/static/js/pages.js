// Repository pages: copy buttons, and the status page following its checks while pending.
// Everything here is optional: without JavaScript the pages show the same after a reload.
(function () {
  "use strict";

  document.querySelectorAll(".js-only").forEach(function (el) { el.hidden = false; });

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var field = document.querySelector(button.getAttribute("data-copy"));
      if (!field) { return; }
      var done = function () {
        var label = button.textContent;
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = label; }, 1500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done);
      } else {
        field.select();
        document.execCommand("copy");
        done();
      }
    });
  });

  var page = document.getElementById("status-page");
  if (!page || page.getAttribute("data-pending") !== "true") { return; }
  var url = page.getAttribute("data-checks-url");
  var icons = { success: "\u2713", failure: "\u2717", error: "!", pending: "\u25cf" };
  var classes = { success: "success", failure: "danger", error: "warning", pending: "secondary" };
  var delay = 1000;

  function paint(badge, state) {
    if (!badge || badge.getAttribute("data-state") === state) { return; }
    badge.setAttribute("data-state", state);
    badge.className = "badge state-badge text-bg-" + (classes[state] || "secondary");
    badge.textContent = (icons[state] || "") + " " + state;
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("status " + response.status); }
        return response.json();
      })
      .then(function (data) {
        var states = {};
        data.files.forEach(function (file) { states[file.path] = file.state; });
        document.querySelectorAll(".file-card").forEach(function (card) {
          var state = states[card.getAttribute("data-path")];
          if (state) { paint(card.querySelector(".state-badge"), state); }
        });
        paint(document.getElementById("commit-state"), data.state);
        var pending = data.files.some(function (file) { return file.state === "pending"; });
        if (!pending) {
          page.setAttribute("data-pending", "false");
          // The messages and scores are rendered by the server: fetch the final page.
          window.location.reload();
          return;
        }
        delay = Math.min(delay * 1.2, 5000);
        setTimeout(poll, delay);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, delay);
}());
