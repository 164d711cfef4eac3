/* Inside the amoCRM card: the widget (amocrm/widget/script.js) frames this
   page and sizes the frame to the height we post; only the amoCRM account's
   origin receives it. */
(function () {
  "use strict";
  var me = document.currentScript || document.querySelector("script[data-parent-origin]");
  var parentOrigin = me && me.getAttribute("data-parent-origin");
  if (!parentOrigin || window.parent === window) return;
  var root = document.querySelector(".hb-frame-root") || document.body;
  var sent = 0;
  function post() {
    var height = Math.ceil(root.getBoundingClientRect().height) + 8;
    if (height === sent) return;
    sent = height;
    window.parent.postMessage({ hourbook: "height", height: height }, parentOrigin);
  }
  new ResizeObserver(function () { requestAnimationFrame(post); }).observe(root);
  window.addEventListener("hb:updated", post);
  post();
})();
