/* Inside a Bitrix24 frame: the official SDK (our slim build of
   @bitrix24/b24jssdk, tools/vendor-b24jssdk) talks to the portal page.
   - The frame is sized to the content with resizeWindow and a measured
     height (fitWindow only ever grows it), again whenever the content changes.
   - The portal's token is refreshed before it expires (2.2.0 has no
     keepAuthFresh), and our own signed frame token is renewed with it, so a
     tab left open all day keeps working. */
(function () {
  "use strict";
  if (!window.B24Js || (window.name || "").split("|").length < 3) return;  // not in a portal frame
  var REFRESH_MS = 40 * 60 * 1000;

  B24Js.initializeB24Frame().then(function ($b24) {
    var root = document.querySelector(".hb-frame-root") || document.body;
    var sent = 0;
    function fit() {
      var height = Math.ceil(root.getBoundingClientRect().height) + 16;
      if (height === sent) return;
      sent = height;
      $b24.parent.message.send("resizeWindow", { width: "100%", height: height, isSafely: true });
    }
    new ResizeObserver(function () { requestAnimationFrame(fit); }).observe(root);
    window.addEventListener("hb:updated", fit);
    fit();

    setInterval(function () {
      $b24.auth.refreshAuth().then(function (auth) {
        if (window.Hourbook && auth && auth.access_token) return window.Hourbook.renew(auth);
      }).catch(function () { /* the next interval tries again */ });
    }, REFRESH_MS);
  }).catch(function () { /* opened outside the portal: the page still works, unsized */ });
})();
