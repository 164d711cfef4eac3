/* Hourbook's pages: keep the frame sized to its content, refresh the
   summary every minute without reloading the frame, and keep the signed
   frame token fresh while a tab stays open. No framework, no CDN. */
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="hb-token"]');
  var token = meta ? meta.getAttribute("content") : "";
  var RENEW_MS = 40 * 60 * 1000;

  function setToken(next) {
    token = next;
    if (meta) meta.setAttribute("content", next);
    document.querySelectorAll('input[name="_t"]').forEach(function (input) { input.value = next; });
    document.querySelectorAll("a[href*='t=']").forEach(function (a) {
      var url = new URL(a.href, location.href);
      if (url.origin === location.origin && url.searchParams.has("t")) {
        url.searchParams.set("t", next);
        a.href = url.pathname + url.search + url.hash;
      }
    });
  }

  /* Minute refresh of the summary (the widget and the cabinet). */
  var root = document.querySelector("[data-hb-refresh]");
  if (root) {
    var every = parseInt(root.getAttribute("data-hb-every") || "60", 10) * 1000;
    setInterval(function () {
      if (document.hidden) return;
      var headers = token ? { "X-Hourbook-Token": token } : {};
      fetch(root.getAttribute("data-hb-refresh"), { headers: headers, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) { root.innerHTML = html; window.dispatchEvent(new Event("hb:updated")); })
        .catch(function () { /* keep what is shown; the next minute tries again */ });
    }, every);
  }

  /* Inside a Bitrix24 frame: the official SDK (vendored) sizes the frame and
     keeps its auth fresh; frame.js does that part when it is loaded. */
  window.Hourbook = {
    token: function () { return token; },
    setToken: setToken,
    renewEvery: RENEW_MS,
    renew: function (auth) {
      var body = new URLSearchParams({ AUTH_ID: auth.access_token, member_id: auth.member_id, LANG: document.documentElement.lang });
      return fetch("/frame/renew", { method: "POST", headers: { "X-Hourbook-Token": token }, body: body })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (data) { setToken(data.token); return data.token; });
    }
  };

  /* Confirm destructive actions (forms marked data-hb-confirm). */
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-hb-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });
})();
