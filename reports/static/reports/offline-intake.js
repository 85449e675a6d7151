/* Offline-tolerant intake: the draft (every named field, the pin, the chosen photos) is
   kept in IndexedDB as it is filled and restored when the page is opened again; a report
   sent with no connection waits in the outbox and goes when the connection returns
   ("online", the next page load, Background Sync in the service worker), always with
   its draft's idempotency key. Also registers the service worker (/sw.js).
   Loaded after intake.js (window.intakePage) and intake-outbox.js (window.IntakeOutbox). */
(function () {
  "use strict";
  var page = window.intakePage, OB = window.IntakeOutbox;
  var form = document.getElementById("intake-form");
  if (!page || !OB || !form || !window.indexedDB) return;
  var cfg = page.cfg, T = cfg.i18n || {};
  var keyIn = document.getElementById("idempotency_key");
  var btn = document.getElementById("submit-btn"), status = document.getElementById("submit-status");
  var progress = document.getElementById("upload-progress"), panel = document.getElementById("outbox-panel");
  var draftNote = document.getElementById("draft-note");
  var NOT_DRAFT = { csrfmiddlewaretoken: 1, idempotency_key: 1 };
  var RETRY_MS = 30000;

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text != null) e.textContent = text;
    return e;
  }
  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "k" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }
  /* The idempotency scope of an anonymous citizen (X-Device-Id): the same on every retry, also after a reload. */
  function deviceId() {
    try {
      var id = localStorage.getItem("gp-device-id");
      if (!id) { id = newKey(); localStorage.setItem("gp-device-id", id); }
      return id;
    } catch (e) { return ""; }
  }
  function csrf() {
    var t = form.querySelector("input[name=csrfmiddlewaretoken]");
    return t ? t.value : "";
  }

  /* The form as the server would receive it: every named field (whatever fields the page
     has), the files as the inputs hold them now (already downsized by photo-prep.js). */
  function snapshot() {
    var fields = [], files = [];
    new FormData(form).forEach(function (value, name) {
      if (NOT_DRAFT[name]) return;
      if (typeof value === "string") fields.push([name, value]);
      else if (value && value.size) files.push([name, value]);
    });
    var province = document.getElementById("province");
    return { key: keyIn.value, province: province ? province.value : "", fields: fields, files: files };
  }
  function isEmpty(s) {
    return !s.files.length && s.fields.every(function (f) { return !String(f[1]).trim(); });
  }

  // --- the draft ------------------------------------------------------------------
  var restoring = true, saveTimer = null, sentAway = false;
  function saveNow() {
    clearTimeout(saveTimer);
    if (restoring || sentAway) return Promise.resolve();
    var s = snapshot();
    return (isEmpty(s) ? OB.deleteDraft() : OB.putDraft(s)).catch(function () {});
  }
  function saveSoon() {
    if (restoring) return;
    clearTimeout(saveTimer);
    saveTimer = setTimeout(saveNow, 300);
  }
  ["input", "change", "intake:pin", "intake:photos"].forEach(function (t) { form.addEventListener(t, saveSoon); });
  document.addEventListener("visibilitychange", function () { if (document.hidden) saveNow(); });
  window.addEventListener("pagehide", saveNow);

  function restore(d) {
    if (d.key) keyIn.value = d.key;
    var province = document.getElementById("province");
    if (d.province && province && province.value !== d.province) {
      province.value = d.province;
      province.dispatchEvent(new Event("change", { bubbles: true }));
    }
    var values = {};
    (d.fields || []).forEach(function (f) { (values[f[0]] = values[f[0]] || []).push(f[1]); });
    Array.prototype.forEach.call(form.elements, function (input) {
      var name = input.name;
      if (!name || NOT_DRAFT[name] || name === "lat" || name === "lon" || !(name in values)) return;
      var vals = values[name];
      if (input.type === "file" || input.type === "submit" || input.type === "button") return;
      if (input.type === "radio" || input.type === "checkbox") {
        var was = input.checked;
        input.checked = vals.indexOf(input.value) >= 0;
        if (input.checked && !was) input.dispatchEvent(new Event("change", { bubbles: true }));
      } else if (input.tagName === "SELECT" && input.multiple) {
        Array.prototype.forEach.call(input.options, function (o) { o.selected = vals.indexOf(o.value) >= 0; });
      } else {
        input.value = vals.length ? vals.shift() : "";
      }
    });
    var lat = (values.lat || [""])[0], lon = (values.lon || [""])[0];
    if (lat && lon) page.setPin(parseFloat(lat), parseFloat(lon));
    var byInput = {};
    (d.files || []).forEach(function (f) { (byInput[f[0]] = byInput[f[0]] || []).push(f[1]); });
    Object.keys(byInput).forEach(function (name) {
      var input = form.querySelector('input[type=file][name="' + name + '"]');
      if (!input || typeof DataTransfer === "undefined") return;
      var dt = new DataTransfer();
      byInput[name].forEach(function (file) { dt.items.add(file); });
      input.files = dt.files;
    });
    form.dispatchEvent(new CustomEvent("intake:restored", { bubbles: true }));
  }

  // --- the outbox -----------------------------------------------------------------
  var receipts = {};  // sent reports shown on this page (removed from the outbox once shown)

  function render(items) {
    panel.textContent = "";
    var queued = items.filter(function (i) { return i.state === "queued"; });
    queued.forEach(function (item) {
      var li = el("li", { "class": "outbox-queued", "data-key": item.key });
      li.appendChild(el("strong", null, T.queued));
      li.appendChild(document.createTextNode(" " + excerpt(item)));
      panel.appendChild(li);
    });
    Object.keys(receipts).forEach(function (key) {
      var r = receipts[key], li = el("li", { "class": "outbox-sent", "data-key": key });
      li.appendChild(document.createTextNode(T.sentReceipt + " "));
      li.appendChild(el("strong", { "class": "outbox-code" }, r.code));
      li.appendChild(document.createTextNode(" "));
      li.appendChild(el("a", { href: r.done || r.url, "class": "btn small" }, T.viewReceipt));
      panel.appendChild(li);
    });
    panel.hidden = !panel.children.length;
    return queued.length;
  }
  function excerpt(item) {
    var d = (item.fields || []).filter(function (f) { return f[0] === "description"; })[0];
    var text = d ? d[1] : "";
    return text.length > 80 ? "“" + text.slice(0, 80) + "…”" : (text ? "“" + text + "”" : "");
  }

  /* Read the outbox: show the receipts of sent reports (once), put a refused one back in
     the form with its field errors, list the queued ones. Resolves the number still queued. */
  function refresh() {
    return OB.listOutbox().then(function (items) {
      var steps = [];
      items.forEach(function (item) {
        if (item.state === "sent" && item.receipt) {
          receipts[item.key] = item.receipt;
          steps.push(OB.deleteOutbox(item.key));
        } else if (item.state === "refused") {
          steps.push(bringBack(item));
        }
      });
      return Promise.all(steps).then(function () { return render(items); });
    });
  }
  function bringBack(item) {
    // 422: the key was used for another body, so the corrected report needs its own key.
    var draft = { key: item.lastStatus === 422 ? newKey() : item.key, province: item.province,
                  fields: item.fields, files: item.files };
    return OB.putDraft(draft).then(function () { return OB.deleteOutbox(item.key); }).then(function () {
      form.hidden = false;
      restoring = true;
      restore(draft);
      restoring = false;
      status.textContent = T.fixErrors;
      page.showErrors(item.errors || {});
    });
  }

  var retryTimer = null;
  function flush() {
    if (!navigator.onLine) return Promise.resolve(0);
    return OB.sendQueued({ csrf: csrf() }).then(refresh, refresh).then(function (left) {
      clearTimeout(retryTimer);
      if (left) retryTimer = setTimeout(flush, RETRY_MS);  // online, but the server did not answer
      return left;
    });
  }
  window.addEventListener("online", flush);

  // --- sending --------------------------------------------------------------------
  var busy = false;
  function showProgress(loaded, total) {
    var pct = total ? Math.round(100 * loaded / total) : 0;
    progress.hidden = false;
    progress.value = pct;
    status.textContent = T.sending + " " + pct + "%";
  }
  function done() { busy = false; btn.disabled = false; progress.hidden = true; }

  function queue(item) {
    return OB.putOutbox(item).then(function () { return OB.deleteDraft(); }).then(function () {
      sentAway = true;  // this form's content lives in the outbox now
      done();
      status.textContent = "";
      form.hidden = true;
      draftNote.hidden = true;
      document.getElementById("after-queue").hidden = false;
      if (navigator.serviceWorker && navigator.serviceWorker.controller) {
        navigator.serviceWorker.ready.then(function (reg) {
          if (reg.sync) return reg.sync.register(OB.SYNC_TAG);
        }).catch(function () {});
      }
      return refresh();
    }).then(function () {
      panel.scrollIntoView({ block: "center" });
      if (navigator.onLine) { clearTimeout(retryTimer); retryTimer = setTimeout(flush, RETRY_MS); }
    });
  }

  page.submitHandler = function () {
    if (busy) return;  // a double click sends once
    busy = true; btn.disabled = true;
    var item = snapshot();
    item.url = cfg.submitUrl; item.csrf = csrf(); item.deviceId = deviceId();
    item.state = "queued"; item.queuedAt = Date.now();
    OB.putDraft(snapshot()).catch(function () {}).then(function () {
      if (!navigator.onLine) return queue(item);
      showProgress(0, 0);
      return OB.send(item, { onProgress: showProgress }).then(function (res) {
        var outcome = OB.outcome(res);
        if (outcome === "sent") {
          sentAway = true;
          status.textContent = T.sent;
          return OB.deleteDraft().then(function () { window.location.href = res.body.done || res.body.url; });
        }
        if (res.status === 502 || res.status === 503 || res.status === 504) return queue(item);
        done();
        status.textContent = outcome === "refused" ? T.fixErrors : T.failed;
        var errors = res.body.errors || { __all__: [res.body.detail || T.failed] };
        page.showErrors(errors);
      }, function () { return queue(item); });
    }).catch(function () { done(); status.textContent = T.failed; });
  };

  document.getElementById("new-report").addEventListener("click", function () { window.location.reload(); });
  document.getElementById("discard-draft").addEventListener("click", function () {
    sentAway = true;
    OB.deleteDraft().then(function () { window.location.reload(); });
  });

  // --- start: restore the draft, show and send the outbox, the service worker ---------
  OB.getDraft().then(function (d) {
    if (d && !isEmpty({ fields: d.fields || [], files: d.files || [] })) {
      restore(d);
      draftNote.hidden = false;
    }
  }).catch(function () {}).then(function () {
    restoring = false;
    return refresh();
  }).then(function (left) { if (left) flush(); }).catch(function () {});

  navigator.serviceWorker && navigator.serviceWorker.addEventListener("message", function (e) {
    if (e.data && e.data.type === "intake-outbox") refresh();
  });

  if ("serviceWorker" in navigator && window.workbox && cfg.swUrl) {
    new window.workbox.Workbox(cfg.swUrl, { scope: "/" }).register()
      .then(function () { return navigator.serviceWorker.ready; })
      .then(keepForOffline)
      .catch(function () {});
  }

  /* What this page loaded before its service worker took over (the first visit): the page
     itself, its static files, the province's boundaries, kept for the next visit with no network. */
  var BOUNDARIES = /^\/api\/v1\/boundaries\/[\w-]+\/[\w-]+\.geojson$/;
  function keepForOffline() {
    if (!window.caches) return;
    function keep(cacheName, url, opts) {
      return caches.open(cacheName).then(function (c) {
        return c.match(url, opts).then(function (hit) { return hit || c.add(url); });
      }).catch(function () {});
    }
    keep("gp-pages", window.location.href, { ignoreSearch: true, ignoreVary: true });
    function seen(list) {
      list.getEntries().forEach(function (e) {
        var u = new URL(e.name);
        if (u.origin !== window.location.origin) return;
        if (u.pathname.indexOf("/static/") === 0) keep("gp-static", e.name);
        else if (BOUNDARIES.test(u.pathname)) keep("gp-boundaries", e.name, { ignoreVary: true });
      });
    }
    if (window.PerformanceObserver) {
      try { new PerformanceObserver(seen).observe({ type: "resource", buffered: true }); } catch (e) { /* old browser */ }
    }
  }
})();
