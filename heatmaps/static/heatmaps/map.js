/* The planners' map: modes (points/bins vector tiles, heat, hexagons, choropleth),
   category layers, a month slider, province → commune drill-down, Gi* hotspots,
   export of the current view. Over the basemap (GEO_PORTAL_BASEMAP); with none, the areas
   are the base. */
(function () {
  "use strict";
  var el = document.getElementById("hm-map");
  var T = JSON.parse(document.getElementById("hm-i18n").textContent);
  var POINTS_ZOOM = parseInt(el.dataset.pointsZoom, 10);
  var map = L.map(el, { preferCanvas: false, zoomControl: true }).setView([16.5, 106.5], 6);
  GeoPortal.basemap(map);
  // Open on the busiest province (a month's bins are specks at country zoom).
  if (el.dataset.startBounds) map.fitBounds(JSON.parse(el.dataset.startBounds));
  window.hmMap = map;
  // The tiles (bins, points) above the areas: in the tile pane (z 200) they were drawn
  // under the areas' opaque fill (overlay pane, z 400) and only showed at sea.
  var tilesPane = map.createPane("hm-tiles");
  tilesPane.style.zIndex = 450;
  // Clicks: on the areas (drill-down) while bins show, on the points (popups) once they do.
  function tilesClickable() { tilesPane.classList.toggle("hm-passive", map.getZoom() < POINTS_ZOOM); }
  map.on("zoomend", tilesClickable);
  // Another country's city (?jurisdiction=boston): its own areas, every request scoped to it.
  var state = { mode: "points", version: document.getElementById("hm-version").value || "", province: "", drill: null,
                jurisdiction: el.dataset.jurisdiction || "", areaType: el.dataset.areaType || "" };
  var jurisdictionSelect = document.getElementById("hm-jurisdiction");
  if (jurisdictionSelect) {
    jurisdictionSelect.addEventListener("change", function () { document.getElementById("hm-jurisdiction-form").submit(); });
  }
  var layers = { base: null, data: null, hot: null };
  var statusEl = document.getElementById("hm-status");

  // --- months for the slider -------------------------------------------------------
  var months = [];
  (function () {
    var f = el.dataset.firstMonth, l = el.dataset.lastMonth;
    if (!f || !l) return;
    var y = +f.slice(0, 4), m = +f.slice(5, 7);
    while (y * 100 + m <= +l.slice(0, 4) * 100 + +l.slice(5, 7)) {
      months.push(y + "-" + String(m).padStart(2, "0"));
      m += 1; if (m > 12) { m = 1; y += 1; }
    }
  })();
  var slider = document.getElementById("hm-month");
  slider.max = Math.max(0, months.length - 1);
  slider.value = slider.max;
  var allTime = document.getElementById("hm-alltime");
  function monthLabel() { document.getElementById("hm-month-label").textContent = allTime.checked || !months.length ? T.all : months[+slider.value]; }

  function params(extra) {
    var p = new URLSearchParams();
    if (!allTime.checked && months.length) p.set("month", months[+slider.value]);
    var cats = Array.prototype.filter.call(document.querySelectorAll("input[name=category]"), function (c) { return c.checked; }).map(function (c) { return c.value; });
    var total = document.querySelectorAll("input[name=category]").length;
    if (cats.length < total) p.set("category", cats.length ? cats.join(",") : "__none__");
    if (state.province) p.set("province", state.province);
    if (state.jurisdiction) p.set("jurisdiction", state.jurisdiction);
    Object.keys(extra || {}).forEach(function (k) { p.set(k, extra[k]); });
    return p;
  }
  function bboxStr() { var b = map.getBounds(); return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(5); }).join(","); }
  function colour(n, max) {
    var t = max ? Math.sqrt(n / max) : 0;
    var stops = ["#ffffcc", "#fed976", "#fd8d3c", "#e31a1c", "#800026"];
    return stops[Math.min(stops.length - 1, Math.floor(t * (stops.length - 0.001)))];
  }
  // The bins' ramp: five classes by sqrt(n / top), the top being the view's scale at the
  // zoom (/api/v1/heatmaps/bins/scale/, the same for every tile), at least BIN_TOP_MIN so
  // that a cell of one report is not drawn as a hot spot. Class k holds the cells with
  // n >= top * (k / 5)^2 (binLowest, which the legend prints too).
  var BIN_STOPS = ["#fd8d3c", "#f03b20", "#d7301f", "#b30000", "#7f0000"], BIN_TOP_MIN = 20, BIN_SCALE_WAIT_MS = 3000;
  var binScale = {};
  function binTop(z) { return Math.max(BIN_TOP_MIN, binScale[String(z)] || 0); }
  function binLowest(k, top) { return Math.max(1, Math.ceil(top * k * k / 25)); }
  function binColour(n, top) {
    var k = 0;
    while (k < BIN_STOPS.length - 1 && n >= binLowest(k + 1, top)) k += 1;
    return BIN_STOPS[k];
  }
  function binLegend() {
    var z = map.getZoom(), box = document.getElementById("hm-legend");
    if (state.mode !== "points") return;  // the other modes' legends are their own
    if (z >= POINTS_ZOOM) { box.innerHTML = ""; return; }  // points, no bins
    var top = binTop(z), html = '<div class="hm-legend-title">' + T.perBin + "</div>";
    BIN_STOPS.forEach(function (c, k) {
      var lo = binLowest(k, top), hi = k < BIN_STOPS.length - 1 ? binLowest(k + 1, top) - 1 : null;
      if (hi !== null && hi < lo) return;  // a class no count falls in (a small top)
      html += '<div class="hm-bin-class"><i style="background:' + c + '"></i>' + (hi === null ? "≥ " + lo : lo === hi ? lo : lo + "–" + hi) + "</div>";
    });
    box.innerHTML = html;
  }
  map.on("zoomend", binLegend);
  function setStatus(s) { statusEl.textContent = s; }
  function getJSON(url) {
    setStatus(T.loading);
    return fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (j) { setStatus(""); return j; });
  }
  function clearData() { if (layers.data) { map.removeLayer(layers.data); layers.data = null; } }

  // --- base: the areas (also the choropleth) -----------------------------------------
  function loadAreas(choropleth) {
    var type = state.areaType || (state.drill ? "commune" : "province");
    var p = params({ version: state.version, type: type, zoom: map.getZoom() });
    if (state.drill) p.set("parent", state.drill);
    if (!choropleth) { p.set("month", "1900-01"); }
    return getJSON("/api/v1/heatmaps/areas/?" + p.toString()).then(function (fc) {
      if (layers.base) map.removeLayer(layers.base);
      var max = 0; fc.features.forEach(function (f) { max = Math.max(max, f.properties.n); });
      layers.base = L.geoJSON(fc, {
        style: function (f) {
          return choropleth
            ? GeoPortal.overBasemap({ color: "#555", weight: 1, fillColor: colour(f.properties.n, max), fillOpacity: 0.75, className: "hm-area hm-area-" + f.properties.code }, 0.6)
            : GeoPortal.overBasemap({ color: "#6b7a8a", weight: 1, fillColor: "#f4f1e8", fillOpacity: 0.9, className: "hm-area hm-area-" + f.properties.code }, 0.08, { color: "#34495e" });
        },
        onEachFeature: function (f, lyr) {
          lyr.bindTooltip(f.properties.name + (choropleth ? ": " + f.properties.n + " " + T.reports : ""));
          lyr.on("click", function () {
            if (!state.drill && type === "province") { drillInto(f.properties.code, lyr.getBounds()); }
          });
        }
      }).addTo(map);
      layers.base.bringToBack();
      if (choropleth) legend(max, T.reports);
      return fc;
    });
  }
  function drillInto(code, bounds) {
    state.drill = code; state.province = code;
    document.getElementById("hm-province").value = code;
    document.getElementById("hm-up").hidden = false;
    if (bounds) map.fitBounds(bounds);
    refresh();
  }
  document.getElementById("hm-up").addEventListener("click", function () {
    state.drill = null; state.province = ""; document.getElementById("hm-province").value = "";
    this.hidden = true; map.setView([16.5, 106.5], 6); refresh();
  });
  document.getElementById("hm-province").addEventListener("change", function () {
    if (this.value) {
      var code = this.value;
      getJSON("/api/v1/heatmaps/areas/?" + new URLSearchParams({ type: "province", month: "1900-01" })).then(function (fc) {
        var f = fc.features.filter(function (x) { return x.properties.code === code; })[0];
        drillInto(code, f ? L.geoJSON(f).getBounds() : null);
      });
    } else { document.getElementById("hm-up").click(); }
  });

  function legend(max, what) {
    var html = "";
    [0, 0.1, 0.3, 0.6, 1].forEach(function (t) { var n = Math.round(max * t); html += '<div><i style="background:' + colour(n, max) + '"></i>' + n + " " + what + "</div>"; });
    document.getElementById("hm-legend").innerHTML = html;
  }

  // --- modes ----------------------------------------------------------------------
  var catColours = {};
  document.querySelectorAll(".hm-cat").forEach(function (l) { catColours[l.querySelector("input").value] = l.querySelector(".swatch").style.background; });
  function pointsLayer() {
    var url = "/tiles/reports/{z}/{x}/{y}.pbf?v=" + encodeURIComponent(state.dataVersion || el.dataset.version) + "&" + params().toString();
    // Tiles that hold more points than the cap send a "capped" layer (heatmaps/tiles.py):
    // the notice shows while one of them is on the map at the current zoom.
    var capped = {};
    function cappedNotice() {
      var z = map.getZoom();
      document.getElementById("hm-capped").hidden = !Object.keys(capped).some(function (k) { return +k.split("/")[0] === z; });
    }
    map.on("zoomend", cappedNotice);
    return L.vectorGrid.protobuf(url, {
      rendererFactory: L.canvas.tile, interactive: true, maxNativeZoom: 16, pane: "hm-tiles",
      vectorTileLayerStyles: {
        reports: function (p) {
          return { radius: 4, weight: 1, color: p.overdue ? "#b42318" : "#1b4f8a", fill: true, fillColor: p.overdue ? "#ff6b6b" : "#4dabf7", fillOpacity: 0.85 };
        },
        capped: function (p) {
          capped[p.z + "/" + p.x + "/" + p.y] = p.total;
          setTimeout(cappedNotice, 0);
          return [];
        },
        bins: function (p, z) {
          // A ramp that starts visible (orange → dark red) and an outline of the same
          // colour: a cell is 4 px wide at every zoom, a pale one vanished on the base.
          var c = binColour(p.n, binTop(z));
          return { weight: 1.5, color: c, opacity: 0.9, fill: true, fillColor: c, fillOpacity: 0.9 };
        }
      }
    }).on("tileunload", function (e) {
      delete capped[e.coords.z + "/" + e.coords.x + "/" + e.coords.y];
      cappedNotice();
    }).on("remove", function () {
      capped = {};
      cappedNotice();
      map.off("zoomend", cappedNotice);
    }).on("click", function (e) {
      var p = e.layer.properties;
      L.popup().setLatLng(e.latlng).setContent(p.code ? (p.code + " · " + p.category + " · " + p.state + (p.overdue ? " · " + T.overdue : "")) : (p.n + " " + T.reports + (p.overdue ? ", " + p.overdue + " " + T.overdue : ""))).openOn(map);
    });
  }
  function heatLayer() {
    var lyr = L.heatLayer([], { radius: 18, blur: 15, maxZoom: 14 });
    getJSON("/api/v1/heatmaps/heat/?" + params({ bbox: bboxStr(), zoom: map.getZoom() }).toString()).then(function (j) {
      var max = 1; j.points.forEach(function (p) { max = Math.max(max, p[2]); });
      lyr.setOptions({ max: max }); lyr.setLatLngs(j.points);
    });
    return lyr;
  }
  function hexLayer() {
    var grp = L.featureGroup();
    getJSON("/api/v1/heatmaps/hex/?" + params({ bbox: bboxStr(), zoom: map.getZoom() }).toString()).then(function (fc) {
      var max = 0; fc.features.forEach(function (f) { max = Math.max(max, f.properties.n); });
      L.geoJSON(fc, { style: function (f) { return { weight: 0.5, color: "#fff", fillColor: colour(f.properties.n, max), fillOpacity: 0.8, className: "hm-hex" }; },
        onEachFeature: function (f, l) { l.bindTooltip(f.properties.n + " " + T.reports); } }).addTo(grp);
      legend(max, T.reports);
    });
    return grp;
  }
  function hotspotLayer() {
    var p = params();
    if (!state.province) p.set("bbox", bboxStr());
    var grp = L.featureGroup();
    getJSON("/api/v1/heatmaps/hotspots/?" + p.toString()).then(function (fc) {
      var hot = { 99: "#b2182b", 95: "#ef8a62", 90: "#fddbc7" }, cold = { 99: "#2166ac", 95: "#67a9cf", 90: "#d1e5f0" };
      L.geoJSON(fc, { style: function (f) { var c = f.properties; return { weight: 1, color: "#333", fillColor: (c.kind === "hot" ? hot : cold)[c.confidence], fillOpacity: 0.7, className: "hm-hotspot hm-" + c.kind }; },
        onEachFeature: function (f, l) { var c = f.properties; l.bindTooltip((c.kind === "hot" ? T.hot : T.cold) + " " + c.confidence + "% " + T.confidence + " (z=" + c.z + ", n=" + c.n + ")"); } }).addTo(grp);
    });
    return grp;
  }

  function refresh() {
    monthLabel();
    clearData();
    document.getElementById("hm-legend").innerHTML = "";
    var choro = state.mode === "choropleth";
    loadAreas(choro);
    if (state.mode === "points") {
      // Drawn once the view's bin scale is known (a tile keeps the colours it was drawn
      // with), or after BIN_SCALE_WAIT_MS with the scale of the view before; then drawn
      // again when the scale arrives (its tiles from the browser's cache).
      var points = layers.data = pointsLayer(), drawn = false;
      var draw = function () { if (layers.data === points && !drawn) { drawn = true; points.addTo(map); binLegend(); } };
      var scaled = function (scale) {
        if (layers.data !== points) return;  // another view was asked for since
        binScale = scale;
        if (drawn) { points.redraw(); binLegend(); } else draw();
      };
      setTimeout(draw, BIN_SCALE_WAIT_MS);
      getJSON("/api/v1/heatmaps/bins/scale/?" + params().toString())
        .then(function (j) { scaled(j.zooms || {}); }, function () { scaled({}); });
    } else if (state.mode === "heat") layers.data = heatLayer();
    else if (state.mode === "hex") layers.data = hexLayer();
    if (layers.data && state.mode !== "points") layers.data.addTo(map);
    if (layers.hot) { map.removeLayer(layers.hot); layers.hot = null; }
    if (document.getElementById("hm-hotspots").checked) layers.hot = hotspotLayer().addTo(map);
    updateExports();
    el.dataset.mode = state.mode;
  }
  function updateExports() {
    var q = params({ bbox: bboxStr() }).toString();
    ["geojson", "csv", "gpkg", "html"].forEach(function (f) { document.getElementById("hm-export-" + f).href = "/api/v1/heatmaps/export." + f + "?" + q; });
  }

  document.querySelectorAll("input[name=mode]").forEach(function (r) { r.addEventListener("change", function () { state.mode = this.value; refresh(); }); });
  document.querySelectorAll("input[name=category]").forEach(function (c) { c.addEventListener("change", refresh); });
  slider.addEventListener("input", monthLabel);
  slider.addEventListener("change", refresh);
  allTime.addEventListener("change", refresh);
  document.getElementById("hm-hotspots").addEventListener("change", refresh);
  document.getElementById("hm-version").addEventListener("change", function () { state.version = this.value; refresh(); });
  map.on("moveend", function () {
    updateExports();
    if (state.mode === "heat" || state.mode === "hex") { clearData(); layers.data = (state.mode === "heat" ? heatLayer() : hexLayer()).addTo(map); }
  });
  // Poll the data version: when reports arrive, the tiles' URL changes (cache busting).
  setInterval(function () {
    fetch("/api/v1/heatmaps/version/").then(function (r) { return r.json(); }).then(function (j) {
      if (j.version !== (state.dataVersion || el.dataset.version)) { state.dataVersion = j.version; if (state.mode === "points") refresh(); }
    }).catch(function () {});
  }, 60000);
  if (!state.jurisdiction) setStatus(T.clickProvince);
  tilesClickable();
  refresh();
})();
