/* Clustered map of reports for the public list and the officer's queue, over the basemap
   (GEO_PORTAL_BASEMAP; with none, the communes are the background), fitted to the points. */
(function () {
  "use strict";
  var box = document.getElementById("reports-map");
  if (!box || !window.L) return;
  var map = L.map(box, { preferCanvas: true, maxZoom: 18 }).setView([16.0, 106.5], 5);
  box.style.background = "#e9eef2";
  GeoPortal.basemap(map);
  var cluster = L.markerClusterGroup({ chunkedLoading: true, showCoverageOnHover: false });
  map.addLayer(cluster);
  var base = box.getAttribute("data-link-base") || "/phan-anh/";
  function draw(data) {
    var cats = data.cats || [];
    var markers = (data.points || []).map(function (row) {
      var cat = cats[row[3]] || ["", "#3388ff"];
      var p = { code: row[0], cat: cat[0] };
      var m = L.circleMarker([row[1], row[2]], { radius: 7, color: "#fff", weight: 1, fillColor: cat[1], fillOpacity: 0.9 });
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
    if (data.note) {  // more reports than the map shows
      var note = document.createElement("p");
      note.className = "hint map-note";
      note.textContent = data.note;
      box.parentNode.insertBefore(note, box.nextSibling);
    }
    if (!markers.length) return;
    var bounds = cluster.getBounds();
    map.fitBounds(bounds, { maxZoom: 15, padding: [20, 20] });
    // Communes (or provinces when the reports cover a large area): the background without a
    // basemap, thin outlines over one.
    var b = map.getBounds();
    var small = b.getEast() - b.getWest() < 1.5 && b.getNorth() - b.getSouth() < 1.5;
    var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) {
      return Math.max(-180, Math.min(180, v)).toFixed(4); }).join(",");
    {
      fetch("/api/v1/boundaries/current/" + (small ? "commune" : "province") + ".geojson?zoom=" + map.getZoom() + "&bbox=" + bbox)
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (gj) {
          if (!gj || !gj.features) return;
          var layer = L.geoJSON(gj, { interactive: false, style: GeoPortal.overBasemap({ color: "#4a6a87", weight: 1, fillColor: "#f3f1e7", fillOpacity: 1 }, 0.05) });
          layer.addTo(map);
          layer.bringToBack();
        }).catch(function () {});
    }
  }
  var inline = document.getElementById("report-points");
  if (inline) { draw(JSON.parse(inline.textContent)); return; }
  var url = box.getAttribute("data-points-url");
  if (url) fetch(url, { headers: { Accept: "application/json" } }).then(function (r) { return r.json(); }).then(draw);
})();
