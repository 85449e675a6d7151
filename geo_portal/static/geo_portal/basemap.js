/* The basemap under every map (GEO_PORTAL_BASEMAP, geo_portal/basemap.py): raster XYZ tiles,
 * the portal's own PMTiles archive drawn by protomaps-leaflet, or none. Every map page calls
 * GeoPortal.basemap(map, {dark: bool}) right after L.map(): the basemap goes in its own pane
 * under every overlay (outlines, pins, clusters, heat, hexagons), and the attribution is
 * always shown. GeoPortal.overBasemap(style) lightens an area style so streets show through. */
(function () {
  "use strict";
  var GP = (window.GeoPortal = window.GeoPortal || {});
  var node = document.getElementById("basemap-config");
  var cfg = node ? JSON.parse(node.textContent) : { kind: "none", attribution: [] };
  GP.basemapConfig = cfg;
  GP.hasBasemap = cfg.kind === "xyz" || cfg.kind === "pmtiles";

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function attributionHtml() {
    return (cfg.attribution || []).map(function (p) {
      return p[1] ? '<a href="' + esc(p[1]) + '" target="_blank" rel="noopener">' + esc(p[0]) + "</a>" : esc(p[0]);
    }).join(" · ");
  }

  GP.basemap = function (map, opts) {
    opts = opts || {};
    var box = map.getContainer();
    box.setAttribute("data-basemap", cfg.kind);
    if (!map.attributionControl) map.attributionControl = L.control.attribution().addTo(map);
    var pane = map.getPane("basemap") || map.createPane("basemap");
    pane.style.zIndex = 150;  // under the tile pane (200) and every overlay (400+)
    pane.style.pointerEvents = "none";
    var layer = null;
    if (cfg.kind === "xyz") {
      layer = L.tileLayer(cfg.url, {
        pane: "basemap", maxZoom: cfg.maxZoom, maxNativeZoom: Math.min(cfg.maxZoom, 19),
        attribution: attributionHtml(),
        // OpenStreetMap's tile policy asks for a Referer; the site's policy sends none
        // across origins, so the tiles send the origin alone.
        referrerPolicy: "strict-origin-when-cross-origin"
      });
      // The wall's dark style from the same raster: inverted, hue kept, dimmed.
      if (opts.dark) pane.style.filter = "invert(1) hue-rotate(180deg) brightness(0.8) contrast(0.9)";
    } else if (cfg.kind === "pmtiles" && window.protomapsL) {
      layer = protomapsL.leafletLayer({
        url: cfg.url, flavor: opts.dark ? "dark" : "light", lang: document.documentElement.lang || "vi",
        maxDataZoom: cfg.maxDataZoom, maxZoom: cfg.maxZoom, pane: "basemap", attribution: attributionHtml()
      });
    }
    if (layer) {
      layer.addTo(map);
      box.classList.add("has-basemap");
      if (opts.dark) box.classList.add("basemap-dark");
    }
    return layer;
  };

  // An area's style over a basemap: a thin wash instead of an opaque fill, a firmer line.
  // Without one (kind "none") the outlines stay the map, as before.
  GP.overBasemap = function (style, fillOpacity, over) {
    if (!GP.hasBasemap || !style) return style;
    var out = {};
    Object.keys(style).forEach(function (k) { out[k] = style[k]; });
    var fo = fillOpacity == null ? 0.12 : fillOpacity;
    if (out.fillOpacity == null || out.fillOpacity > fo) out.fillOpacity = fo;
    out.weight = Math.max(out.weight || 1, 1.5);
    out.opacity = 1;
    Object.keys(over || {}).forEach(function (k) { out[k] = over[k]; });  // e.g. a darker line
    return out;
  };
})();
