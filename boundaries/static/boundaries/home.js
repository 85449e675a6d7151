/* The first page: the chosen province's communes from the boundary GeoJSON endpoint;
 * a click shows the commune's codes and authorities (/api/v1/areas/<id>). */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("home-config").textContent);
  var S = cfg.strings;
  var en = cfg.lang === "en";
  var map = L.map("map", { zoomControl: true, preferCanvas: false, zoomSnap: 0.25 });
  GeoPortal.basemap(map);
  map.setView([21.0, 107.2], 9);
  var layer = null;
  var selected = null;
  var byCode = {};
  var panel = document.getElementById("panel");
  var chooser = document.getElementById("province");
  var count = document.getElementById("count");

  // The API follows Accept-Language when no language was chosen; ask in the page's
  // language so a browser set to English does not mix English into a Vietnamese page.
  var fetchOpts = { headers: { "Accept-Language": cfg.lang || "vi" } };

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function label(p) { return en && p.name_en ? p.name_en : p.name; }
  // Over a basemap the communes are outlines with a light wash; without one, the map itself.
  var base = GeoPortal.overBasemap({ color: "#0b3d6e", weight: 1, fillColor: "#f4f1e8", fillOpacity: 0.9 });
  var hi = GeoPortal.overBasemap({ color: "#b42318", weight: 3, fillColor: "#ffe7a3", fillOpacity: 0.95 }, 0.35);

  // Names: a commune's label is shown when it fits inside the commune on screen and
  // does not overlap a label already placed (largest communes first), so the whole
  // province is named at its first view and more names appear as one zooms in.
  function updateLabels() {
    var el = document.getElementById("map");
    el.classList.toggle("labels-off", map.getZoom() < 8);
    var items = [];
    Object.keys(byCode).forEach(function (code) {
      var l = byCode[code];
      var t = l.getTooltip && l.getTooltip();
      var node = t && t.getElement();
      if (!node) return;
      node.classList.remove("label-hidden");
      var b = l.getBounds();
      var sw = map.latLngToContainerPoint(b.getSouthWest());
      var ne = map.latLngToContainerPoint(b.getNorthEast());
      items.push({ node: node, w: Math.abs(ne.x - sw.x), h: Math.abs(sw.y - ne.y) });
    });
    items.forEach(function (it) { it.r = it.node.getBoundingClientRect(); });  // one layout for all
    items.sort(function (a, b) { return b.w * b.h - a.w * a.h; });
    var placed = [];
    items.forEach(function (it) {
      var r = it.r;
      var fits = it.w >= r.width * 0.8 && it.h >= r.height;
      var clash = placed.some(function (p) {
        return !(r.right < p.left || r.left > p.right || r.bottom < p.top || r.top > p.bottom);
      });
      if (fits && !clash) placed.push(r);
      else it.node.classList.add("label-hidden");
    });
  }
  map.on("zoomend", updateLabels);

  function loadProvince(code) {
    panel.innerHTML = '<p class="muted">' + esc(S.hint) + "</p>";
    if (count) count.textContent = S.loading;
    var url = "/api/v1/boundaries/" + encodeURIComponent(cfg.version) + "/commune.geojson?province=" +
      encodeURIComponent(code) + "&zoom=11";
    fetch(url, fetchOpts).then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); }).then(function (fc) {
      if (layer) map.removeLayer(layer);
      byCode = {};
      selected = null;
      layer = L.geoJSON(fc, {
        style: function () { return base; },
        onEachFeature: function (f, l) {
          byCode[f.properties.code] = l;
          l.bindTooltip(esc(label(f.properties)), { permanent: true, direction: "center", className: "commune-label" });
          l.on("click", function () { select(f.properties, l); });
        },
      }).addTo(map);
      if (fc.features.length) map.fitBounds(layer.getBounds(), { padding: [10, 10] });
      if (count) count.textContent = fc.features.length + " " + S.communes;
      updateLabels();
      document.getElementById("map").dataset.loaded = code;
    }).catch(function () {
      if (count) count.textContent = "";
      panel.innerHTML = '<p class="error">' + esc(S.error) + "</p>";
    });
  }

  function select(props, l) {
    if (selected) selected.setStyle(base);
    selected = l;
    l.setStyle(hi);
    l.bringToFront();
    panel.innerHTML = "<h2>" + esc(props.full_name || props.name) + '</h2><p class="muted">' + esc(S.loading) + "</p>";
    fetch("/api/v1/areas/" + props.id, fetchOpts).then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (a) {
        var html = "<h2>" + esc(a.full_name || a.name) + "</h2>";
        if (a.name_en) html += '<p class="muted">' + esc(a.name_en) + "</p>";
        html += "<dl><dt>" + esc(S.code) + "</dt><dd class=\"area-code\">" + esc(a.code) + "</dd>";
        html += "<dt>" + esc(S.province_code) + "</dt><dd>" + esc(a.codes.province || "") +
          (a.parent ? " · " + esc(a.parent.name) : "") + "</dd>";
        html += "<dt>" + esc(S.type) + "</dt><dd>" + esc(a.type_name) + "</dd>";
        html += "<dt>" + esc(S.version) + "</dt><dd>" + esc(a.version_name || a.version) + "</dd></dl>";
        html += "<h3>" + esc(S.authorities) + "</h3>";
        if (!a.authorities.length) html += '<p class="muted">' + esc(S.none) + "</p>";
        a.authorities.forEach(function (x) {
          html += '<div class="authority"><div class="kind">' + esc(x.kind_name) + "</div><strong>" +
            esc(en && x.name_en ? x.name_en : x.name) + "</strong>";
          if (x.phone) html += "<div>" + esc(S.phone) + ": " + esc(x.phone) + "</div>";
          if (x.email) html += "<div>" + esc(S.email) + ": " + esc(x.email) + "</div>";
          html += "</div>";
        });
        if (a.routing && a.routing.length) {
          html += "<h3>" + esc(S.routing) + '</h3><ul class="routing">';
          a.routing.forEach(function (r) {
            html += '<li><span class="rule">' + esc(r.rule) + "</span><strong>" +
              esc(en && r.authority.name_en ? r.authority.name_en : r.authority.name) + "</strong></li>";
          });
          html += "</ul>";
        }
        panel.innerHTML = html;
      }).catch(function () { panel.innerHTML = '<p class="error">' + esc(S.error) + "</p>"; });
  }

  chooser.addEventListener("change", function () { loadProvince(chooser.value); });
  window.geoPortalHome = { map: map, byCode: byCode, layers: function () { return byCode; } };
  loadProvince(chooser.value || cfg.defaultProvince);
})();
