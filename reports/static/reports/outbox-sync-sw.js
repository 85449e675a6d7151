/* Service worker part of the offline intake (imported by /sw.js after intake-outbox.js):
   Background Sync sends the queued reports when the connection returns, also when no
   page of the portal is open; the open pages are told to show the receipts. */
(function () {
  "use strict";
  function tellPages() {
    return self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (pages) {
      pages.forEach(function (p) { p.postMessage({ type: "intake-outbox" }); });
    });
  }
  self.addEventListener("sync", function (event) {
    if (event.tag !== self.IntakeOutbox.SYNC_TAG) return;
    event.waitUntil(self.IntakeOutbox.sendQueued().then(function (r) {
      return tellPages().then(function () {
        // Still queued (no connection after all): failing makes the browser retry later.
        if (r.left) throw new Error(r.left + " report(s) still queued");
      });
    }));
  });
})();
