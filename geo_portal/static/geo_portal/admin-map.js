// Admin maps (areas, authorities' jurisdictions, a report's pin) on the vendored Leaflet.
// Each <div class="admin-map"> carries its data in attributes: data-geojson (an outline),
// data-lat/data-lon (a pin). A static file, not an inline script: Content-Security-Policy.
(function () {
  function draw(el) {
    if (el.dataset.drawn) return;
    el.dataset.drawn = "1";
    var m = L.map(el, { zoomSnap: 0.25 });
    if (window.GeoPortal && GeoPortal.basemap) GeoPortal.basemap(m);
    var outline = el.dataset.geojson ? JSON.parse(el.dataset.geojson) : null;
    var color = el.dataset.color || "#c0392b";
    var layer = outline ? L.geoJSON(outline, { style: { color: color, weight: 2, fillOpacity: 0.1 } }).addTo(m) : null;
    var hasPin = el.dataset.lat && el.dataset.lon;
    if (hasPin) {
      var ll = [parseFloat(el.dataset.lat), parseFloat(el.dataset.lon)];
      m.setView(ll, 14);
      L.circleMarker(ll, { radius: 7, color: "#d00" }).addTo(m);
    }
    function fit() {
      m.invalidateSize();
      if (layer) m.fitBounds(layer.getBounds(), { padding: [8, 8] });
    }
    fit();
    window.addEventListener("load", fit);
  }
  function all() { document.querySelectorAll("div.admin-map").forEach(draw); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", all); else all();
})();
