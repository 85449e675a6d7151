/* Area alerts subscribe page: pick a point on the map; the commune under it fills the
   area code, a circle shows the radius; Web Push subscribes through the service worker.
   No inline script (CSP): configuration comes from the json_script element. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("alerts-config").textContent);
  var T = cfg.text || {};
  var hint = document.getElementById("map-hint");
  var mapEl = document.getElementById("map");
  mapEl.style.height = "360px";
  var map = L.map("map", { preferCanvas: true }).setView([20.95, 107.07], 10);
  map.getContainer().style.background = "#cfe3f1";
  GeoPortal.basemap(map);
  window.alertsMap = map;  // for tests and debugging
  var communes = L.geoJSON(null, { style: function () { return GeoPortal.overBasemap({ color: "#4a6a87", weight: 1, fillColor: "#f3f1e7", fillOpacity: 1 }, 0.05); } }).addTo(map);
  fetch(cfg.boundaryUrl, { headers: { Accept: "application/geo+json, application/json" } })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (gj) { if (gj) communes.addData(gj); })
    .catch(function () {});
  var lat = document.getElementById("id_lat"), lon = document.getElementById("id_lon");
  var area = document.getElementById("id_area"), areaName = document.getElementById("area-name");
  var radius = document.getElementById("id_radius_m");
  var marker = null, circle = null;
  hint.textContent = T.pick || "";

  function draw() {
    if (!lat.value) return;
    var ll = [parseFloat(lat.value), parseFloat(lon.value)];
    var r = Math.min(parseFloat(radius.value) || 1000, cfg.maxRadius);
    if (!marker) { marker = L.marker(ll).addTo(map); circle = L.circle(ll, { radius: r, color: "#c0392b" }).addTo(map); }
    marker.setLatLng(ll); circle.setLatLng(ll); circle.setRadius(r);
  }

  function pick(latlng) {
    lat.value = latlng.lat.toFixed(6); lon.value = latlng.lng.toFixed(6);
    draw();
    fetch(cfg.locateUrl + "?lat=" + lat.value + "&lon=" + lon.value, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (d) {
        var communeArea = (d.areas || []).filter(function (a) { return a.type === "commune"; })[0];
        if (communeArea) { area.value = communeArea.code; areaName.textContent = communeArea.name; }
        else { areaName.textContent = T.outside || ""; }
      }).catch(function () {});
  }
  map.on("click", function (e) { pick(e.latlng); });
  communes.on("click", function (e) { pick(e.latlng); });
  radius.addEventListener("input", draw);
  draw();

  function b64ToBytes(s) {
    var pad = "=".repeat((4 - s.length % 4) % 4);
    var raw = atob((s + pad).replace(/-/g, "+").replace(/_/g, "/"));
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  var form = document.getElementById("alert-form");
  form.addEventListener("submit", function (e) {
    var channel = form.querySelector("input[name=channel]:checked");
    if (!channel || channel.value !== "push" || document.getElementById("id_push_subscription").value) return;
    e.preventDefault();
    if (!("serviceWorker" in navigator) || !("PushManager" in window)) { hint.textContent = T.pushDenied || ""; return; }
    navigator.serviceWorker.register(cfg.serviceWorkerUrl)
      .then(function (reg) { return navigator.serviceWorker.ready.then(function () { return reg; }); })
      .then(function (reg) {
        return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64ToBytes(cfg.vapidPublicKey) });
      })
      .then(function (sub) {
        document.getElementById("id_push_subscription").value = JSON.stringify(sub.toJSON());
        form.submit();
      })
      .catch(function () { hint.textContent = T.pushDenied || ""; });
  });
})();
