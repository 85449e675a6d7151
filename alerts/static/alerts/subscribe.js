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
  var form = document.getElementById("alert-form");
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
  // A drawn area: each click in "polygon" mode adds a vertex; the hidden field holds
  // the GeoJSON Polygon once there are three.
  var polygonField = document.getElementById("id_polygon");
  var polygonInfo = document.getElementById("polygon-info");
  var verts = [], shape = null;
  function mode() {
    var checked = form.querySelector("input[name=place]:checked");
    return checked ? checked.value : "area";
  }
  function drawPolygon() {
    if (shape) { map.removeLayer(shape); shape = null; }
    if (verts.length) shape = L.polygon(verts, { color: "#8e44ad" }).addTo(map);
    if (verts.length >= 3) {
      var ring = verts.map(function (v) { return [+v[1].toFixed(6), +v[0].toFixed(6)]; });
      ring.push(ring[0]);
      polygonField.value = JSON.stringify({ type: "Polygon", coordinates: [ring] });
    } else {
      polygonField.value = "";
    }
    polygonInfo.textContent = verts.length ? (T.drawn || "").replace("%(n)s", verts.length) : "";
  }
  if (polygonField.value) {  // the form came back with an error: show what was drawn
    try {
      verts = JSON.parse(polygonField.value).coordinates[0].slice(0, -1).map(function (c) { return [c[1], c[0]]; });
    } catch (err) { verts = []; }
    drawPolygon();
  }
  document.getElementById("polygon-clear").addEventListener("click", function () { verts = []; drawPolygon(); });
  var lastClick = null;
  function clicked(e) {
    // A click on a commune reaches both the layer and the map: count it once.
    if (e.originalEvent && e.originalEvent === lastClick) return;
    lastClick = e.originalEvent;
    if (mode() === "polygon") { verts.push([e.latlng.lat, e.latlng.lng]); drawPolygon(); return; }
    pick(e.latlng);
  }
  map.on("click", clicked);
  communes.on("click", clicked);
  Array.prototype.forEach.call(form.querySelectorAll("input[name=place]"), function (r) {
    r.addEventListener("change", function () { hint.textContent = mode() === "polygon" ? (T.draw || "") : (T.pick || ""); });
  });
  if (mode() === "polygon") hint.textContent = T.draw || "";
  radius.addEventListener("input", draw);
  draw();

  function b64ToBytes(s) {
    var pad = "=".repeat((4 - s.length % 4) % 4);
    var raw = atob((s + pad).replace(/-/g, "+").replace(/_/g, "/"));
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

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
