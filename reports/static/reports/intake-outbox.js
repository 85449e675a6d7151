/* The intake's draft and outbox in IndexedDB, and sending a queued report.
   Shared by the page (offline-intake.js) and the service worker (outbox-sync-sw.js):
   no DOM here. A report is sent with the idempotency key made when its draft was
   created, on every retry, so the server creates it exactly once.

   draft:  {id: "current", key, province, fields: [[name, value], ...], files: [[name, File], ...], updated}
   outbox: the draft + {url, csrf, deviceId, state: "queued" | "sent" | "refused", receipt, errors} */
(function (root) {
  "use strict";
  var DB_NAME = "gp-intake", DB_VERSION = 1;
  var dbPromise = null;

  function openDb() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var req = root.indexedDB.open(DB_NAME, DB_VERSION);
        req.onupgradeneeded = function () {
          var db = req.result;
          if (!db.objectStoreNames.contains("drafts")) db.createObjectStore("drafts", { keyPath: "id" });
          if (!db.objectStoreNames.contains("outbox")) db.createObjectStore("outbox", { keyPath: "key" });
        };
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { dbPromise = null; reject(req.error); };
      });
    }
    return dbPromise;
  }

  function run(store, mode, action) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(store, mode), result;
        var req = action(tx.objectStore(store));
        if (req) req.onsuccess = function () { result = req.result; };
        tx.oncomplete = function () { resolve(result); };
        tx.onerror = tx.onabort = function () { reject(tx.error); };
      });
    });
  }

  function getDraft() { return run("drafts", "readonly", function (s) { return s.get("current"); }); }
  function putDraft(draft) {
    draft.id = "current";
    draft.updated = Date.now();
    return run("drafts", "readwrite", function (s) { return s.put(draft); });
  }
  function deleteDraft() { return run("drafts", "readwrite", function (s) { return s.delete("current"); }); }
  function listOutbox() {
    return run("outbox", "readonly", function (s) { return s.getAll(); }).then(function (items) {
      return (items || []).sort(function (a, b) { return (a.queuedAt || 0) - (b.queuedAt || 0); });
    });
  }
  function putOutbox(item) { return run("outbox", "readwrite", function (s) { return s.put(item); }); }
  /* Rewrite an item still in the outbox (a page may have removed it meanwhile: it stays removed). */
  function updateOutbox(item) {
    return run("outbox", "readwrite", function (s) {
      var get = s.get(item.key);
      get.onsuccess = function () { if (get.result) s.put(item); };
      return null;
    });
  }
  function deleteOutbox(key) { return run("outbox", "readwrite", function (s) { return s.delete(key); }); }

  /* The same body on every retry: the server's idempotency check compares the fields and the files' bytes. */
  function formDataOf(item) {
    var fd = new FormData();
    (item.fields || []).forEach(function (f) { fd.append(f[0], f[1]); });
    (item.files || []).forEach(function (f) { fd.append(f[0], f[1], f[1].name || "photo.jpg"); });
    fd.append("idempotency_key", item.key);
    if (item.province) fd.append("tinh", item.province);
    return fd;
  }

  function headersOf(item, csrf) {
    var h = { "Accept": "application/json", "Idempotency-Key": item.key, "X-CSRFToken": csrf || item.csrf || "" };
    if (item.deviceId) h["X-Device-Id"] = item.deviceId;
    return h;
  }

  function NetworkError() { this.network = true; }

  function parse(text) {
    try { return JSON.parse(text); } catch (e) { return {}; }
  }

  /* POST the item: resolves {status, body}; rejects with {network: true} when no answer came.
     In a page, XMLHttpRequest (its upload reports progress); in the service worker, fetch. */
  function send(item, opts) {
    opts = opts || {};
    var fd = formDataOf(item), headers = headersOf(item, opts.csrf);
    if (typeof XMLHttpRequest === "undefined") {
      return fetch(item.url, { method: "POST", body: fd, headers: headers, credentials: "same-origin" })
        .then(function (r) { return r.text().then(function (t) { return { status: r.status, body: parse(t) }; }); },
              function () { throw new NetworkError(); });
    }
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", item.url);
      Object.keys(headers).forEach(function (k) { xhr.setRequestHeader(k, headers[k]); });
      xhr.timeout = 180000;
      if (opts.onProgress) {
        xhr.upload.onprogress = function (e) { if (e.lengthComputable) opts.onProgress(e.loaded, e.total); };
      }
      xhr.onload = function () { resolve({ status: xhr.status, body: parse(xhr.responseText) }); };
      xhr.onerror = xhr.ontimeout = xhr.onabort = function () { reject(new NetworkError()); };
      xhr.send(fd);
    });
  }

  /* What an answer means for a queued report: "sent" (created now or earlier under the
     same key), "refused" (the citizen must change something: field errors), or "retry"
     (no connection, the server busy or failing, a stale CSRF token: try again later). */
  function outcome(res) {
    if (res.status === 201 || res.status === 200) return "sent";
    if (res.status === 400 || res.status === 413 || res.status === 422) return "refused";
    return "retry";
  }

  /* Record an answer on the item. */
  function settle(item, res) {
    var o = outcome(res);
    if (o === "sent") {
      item.state = "sent";
      item.receipt = { code: res.body.code, done: res.body.done, url: res.body.url };
      item.files = [];  // the photos are on the server now
    } else if (o === "refused") {
      item.state = "refused";
      item.errors = res.body.errors || { __all__: [res.body.detail || ""] };
    }
    item.lastStatus = res.status;
    return updateOutbox(item).then(function () { return o; });
  }

  var sending = null;
  /* Send every queued report once (one at a time; a second call while sending waits for the first). */
  function sendQueued(opts) {
    if (sending) return sending;
    sending = listOutbox().then(function (items) {
      var queued = items.filter(function (i) { return i.state === "queued"; }), left = 0;
      return queued.reduce(function (p, item) {
        return p.then(function () {
          return send(item, opts).then(function (res) { return settle(item, res); }, function () { return "retry"; })
            .then(function (o) { if (o === "retry") left++; });
        });
      }, Promise.resolve()).then(function () { return { tried: queued.length, left: left }; });
    });
    var done = function () { sending = null; };
    sending.then(done, done);
    return sending;
  }

  root.IntakeOutbox = {
    getDraft: getDraft, putDraft: putDraft, deleteDraft: deleteDraft,
    listOutbox: listOutbox, putOutbox: putOutbox, deleteOutbox: deleteOutbox,
    send: send, settle: settle, outcome: outcome, sendQueued: sendQueued, SYNC_TAG: "intake-outbox"
  };
})(self);
