// Pressroom page script: counts this view, shows 点击量, refreshes the sidebar fragment.
(function () {
  "use strict";
  var me = document.currentScript;
  var counter = (me && me.getAttribute("data-counter")) || "/api/counter";
  var slot = document.querySelector("[data-pressroom-hits]");
  if (slot) {
    var id = slot.getAttribute("data-pressroom-hits");
    fetch(counter + "/v1/hits/" + encodeURIComponent(id), { method: "POST", credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body || typeof body.count !== "number") return;
        slot.textContent = String(body.count);
        slot.parentNode.hidden = false;
      })
      .catch(function () { /* the page reads fine without a count */ });
  }
  var sidebar = document.getElementById("sidebar");
  if (sidebar && window.fetch) {
    fetch(sidebar.getAttribute("data-fragment"), { credentials: "omit" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html) sidebar.innerHTML = html; })
      .catch(function () {});
  }
})();
