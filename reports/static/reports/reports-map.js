/* Clustered map of reports for the public list and the officer's queue. No tiles:
   the points on a plain background (no internet), fitted to their extent. */
(function () {
  "use strict";
  var box = document.getElementById("reports-map");
  if (!box || !window.L) return;
  var map = L.map(box, { attributionControl: false, preferCanvas: true }).setView([16.0, 106.5], 5);
  box.style.background = "#e9eef2";
  var cluster = L.markerClusterGroup({ chunkedLoading: true, showCoverageOnHover: false });
  map.addLayer(cluster);
  var base = box.getAttribute("data-link-base") || "/phan-anh/";
  function draw(points) {
    var markers = points.map(function (p) {
      var m = L.circleMarker([p.lat, p.lon], { radius: 7, color: "#fff", weight: 1, fillColor: p.color || "#3388ff", fillOpacity: 0.9 });
      var div = document.createElement("div");
      var a = document.createElement("a");
      a.href = base + encodeURIComponent(p.code) + "/";
      a.textContent = p.code;
      div.appendChild(a);
      div.appendChild(document.createTextNode(" " + (p.cat || "")));
      m.bindPopup(div);
      return m;
    });
    cluster.addLayers(markers);
    if (markers.length) map.fitBounds(cluster.getBounds(), { maxZoom: 15, padding: [20, 20] });
  }
  var inline = document.getElementById("report-points");
  if (inline) { draw(JSON.parse(inline.textContent)); return; }
  var url = box.getAttribute("data-points-url");
  if (url) fetch(url, { headers: { Accept: "application/json" } }).then(function (r) { return r.json(); }).then(function (d) { draw(d.points || []); });
})();
