/* The staff report page: the pin on a small map; with "move pin" the marker drags and
   fills the form's lat/lon. */
(function () {
  "use strict";
  var box = document.getElementById("staff-map");
  if (!box || !window.L) return;
  var p = JSON.parse(document.getElementById("report-point").textContent);
  var map = L.map(box).setView([p.lat, p.lon], 14);
  box.style.background = "#e9eef2";
  GeoPortal.basemap(map);
  var lat = document.querySelector(".pin-lat"), lon = document.querySelector(".pin-lon");
  var marker = L.marker([p.lat, p.lon], { draggable: !!lat }).addTo(map);
  if (lat) {
    marker.on("dragend", function () {
      var ll = marker.getLatLng();
      lat.value = ll.lat.toFixed(6); lon.value = ll.lng.toFixed(6);
      var d = lat.closest("details"); if (d) d.open = true;
    });
  }
  fetch("/api/v1/boundaries/current/commune.geojson?zoom=14&bbox=" + [p.lon - 0.05, p.lat - 0.05, p.lon + 0.05, p.lat + 0.05].join(","))
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (gj) { if (gj && gj.features) L.geoJSON(gj, { style: GeoPortal.overBasemap({ color: "#4a6a87", weight: 1, fillColor: "#f3f1e7", fillOpacity: 1 }, 0.05), interactive: false }).addTo(map).bringToBack(); })
    .catch(function () {});
})();
