/* Hourbook in an amoCRM card (company or lead), built by
   `python app.py amocrm widget`. amoCRM loads this AMD module into its own
   page and builds the widget object from it (FACTS.md §4.2): render() puts
   a block in the right-hand widget column; the block asks Hourbook, with
   amoCRM's disposable token (self.$authorizedAjax sends X-Auth-Token, §5;
   no cookies), for a page made for this card, and shows that page in a
   frame: the same view and numbers as Hourbook's Bitrix24 widget. The page
   tells its height by postMessage; only messages from Hourbook count. */
define([], function () {
  "use strict";
  var HOURBOOK = "__HOURBOOK_URL__";
  var ORIGIN = HOURBOOK.replace(/^(https?:\/\/[^\/]+).*$/, "$1");

  return function () {
    var self = this;
    var frame = null;

    function card() {
      var app = window.APP || window.AMOCRM;
      var current = app && app.data && app.data.current_card;
      var entity = app && app.getBaseEntity ? app.getBaseEntity() : "";
      // id 0 is a new card not saved yet: nothing to show (§4.2)
      if (!current || !current.id || (entity !== "companies" && entity !== "leads")) return null;
      return { id: current.id, entity: entity, lang: app.lang_id === "en" ? "en" : "ru" };
    }

    function text(key) {
      var lang = self.i18n("userLang") || {};
      return lang[key] || key;
    }

    function box() {
      return document.querySelector("[data-hourbook-box]");
    }

    function say(message) {
      var el = box();
      if (!el) return;
      el.textContent = "";
      var p = document.createElement("p");
      p.className = "hourbook-message";
      p.style.cssText = "margin:0;padding:12px;color:#6b7785;font-size:13px";
      p.textContent = message;
      el.appendChild(p);
    }

    function show(url) {
      var el = box();
      if (!el) return;
      el.textContent = "";
      frame = document.createElement("iframe");
      frame.src = url;
      frame.title = "Hourbook";
      frame.setAttribute("data-hourbook-frame", "");
      frame.style.cssText = "display:block;width:100%;height:480px;border:0";
      el.appendChild(frame);
    }

    function resize(event) {
      if (event.origin !== ORIGIN || !frame || event.source !== frame.contentWindow) return;
      var data = event.data || {};
      if (data.hourbook === "height" && typeof data.height === "number" && data.height > 0) {
        frame.style.height = Math.min(Math.ceil(data.height), 4000) + "px";
      }
    }

    this.callbacks = {
      render: function () {
        var c = card();
        if (!c) return true;
        self.render_template({
          caption: { class_name: "hourbook-widget" },
          body: "",
          render: '<div data-hourbook-box style="min-height:40px"></div>'
        }, {});
        say(text("loading"));
        self.$authorizedAjax({
          url: HOURBOOK + "/amocrm/widget",
          type: "POST",
          dataType: "json",
          data: { entity: c.entity, id: String(c.id), lang: c.lang }
        }).done(function (answer) {
          if (answer && answer.url) show(answer.url);
          else say(text("not_linked"));
        }).fail(function (xhr) {
          var status = xhr && xhr.status;
          say(text(status === 404 ? "not_linked" : status === 401 || status === 403 ? "refused" : "unavailable"));
        });
        return true;
      },
      init: function () {
        window.removeEventListener("message", resize);
        window.addEventListener("message", resize);
        return true;
      },
      bind_actions: function () {
        return true;
      },
      settings: function () {
        return true;
      },
      onSave: function () {
        return true;
      },
      destroy: function () {
        window.removeEventListener("message", resize);
        frame = null;
      }
    };
    return this;
  };
});
