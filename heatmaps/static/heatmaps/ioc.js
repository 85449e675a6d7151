/* The IOC wall: province map (communes, Gi* hotspots, overdue reports), counters,
   rotating side views, new reports pushed by server-sent events, over the basemap in its
   dark style. */
(function () {
  "use strict";
  var root = document.getElementById("ioc");
  var T = JSON.parse(document.getElementById("ioc-i18n").textContent);
  var province = root.dataset.province;
  // zoomSnap 0.25: the province fills the map instead of half of it.
  var map = L.map("ioc-map", { zoomControl: false, zoomSnap: 0.25 });
  GeoPortal.basemap(map, { dark: true });
  window.iocMap = map;
  var q = "province=" + encodeURIComponent(province);

  function getJSON(u) { return fetch(u).then(function (r) { return r.json(); }); }

  // Framed at once on the province (server-side extent); the communes, hotspots and
  // overdue reports load side by side, not one after the other.
  if (root.dataset.bounds) map.fitBounds(JSON.parse(root.dataset.bounds), { padding: [10, 10] });
  else map.setView([16.5, 106.5], 6);
  var hotLayer = null, overdueLayer = null, newLayer = L.layerGroup().addTo(map);
  // The legend, large enough to read across the room.
  var legend = L.control({ position: "bottomleft" });
  legend.onAdd = function () {
    var d = L.DomUtil.create("div", "ioc-legend");
    var sw = function (style) { return '<i style="' + style + '"></i>'; };
    d.innerHTML = [
      sw("background:#ff2d2d") + T.hot + " 99%", sw("background:#ff7a45") + T.hot + " 95%", sw("background:#ffc069") + T.hot + " 90%",
      sw("border:3px solid #ff6b6b;border-radius:50%") + T.overdue, sw("background:#51cf66;border-radius:50%") + T.fresh
    ].map(function (h) { return "<div>" + h + "</div>"; }).join("");
    return d;
  };
  legend.addTo(map);
  getJSON("/api/v1/heatmaps/areas/?type=commune&zoom=9&parent=" + encodeURIComponent(province)).then(function (fc) {
    var max = 1; fc.features.forEach(function (f) { max = Math.max(max, f.properties.n); });
    var lyr = L.geoJSON(fc, { style: function (f) { var t = Math.sqrt(f.properties.n / max); return GeoPortal.overBasemap({ color: "#3d5a73", weight: 1, fillColor: "rgb(" + Math.round(30 + 120 * t) + ",60,90)", fillOpacity: 0.85, className: "ioc-area" }, 0.2 + 0.4 * t); } }).addTo(map);
    lyr.bringToBack();
    if (!root.dataset.bounds && fc.features.length) map.fitBounds(lyr.getBounds());
  });
  loadHotspots(); loadOverdue();
  function loadHotspots() {
    getJSON("/api/v1/heatmaps/hotspots/?" + q).then(function (fc) {
      if (hotLayer) map.removeLayer(hotLayer);
      hotLayer = L.geoJSON({ type: "FeatureCollection", features: fc.features.filter(function (f) { return f.properties.kind === "hot"; }) }, {
        style: function (f) { var c = f.properties.confidence; return { weight: 0, fillColor: c === 99 ? "#ff2d2d" : c === 95 ? "#ff7a45" : "#ffc069", fillOpacity: 0.7, className: "ioc-hotspot" }; }
      }).addTo(map);
    });
  }
  function loadOverdue() {
    getJSON("/api/v1/heatmaps/overdue/?limit=300&" + q).then(function (fc) {
      if (overdueLayer) map.removeLayer(overdueLayer);
      overdueLayer = L.geoJSON(fc, { pointToLayer: function (f, ll) { return L.circleMarker(ll, { radius: 8, color: "#ff6b6b", weight: 3, fillOpacity: 0.6, className: "ioc-overdue" }); } }).addTo(map);
      var ul = document.getElementById("ioc-overdue"); ul.innerHTML = "";
      fc.features.slice(0, 12).forEach(function (f) { var li = document.createElement("li"); li.textContent = f.properties.code + " · " + f.properties.category + " · " + T.due + " " + (f.properties.due || "").slice(0, 10); ul.appendChild(li); });
    });
  }
  function setCounters(c) {
    document.getElementById("c-today").textContent = c.today;
    document.getElementById("c-open").textContent = c.open;
    document.getElementById("c-overdue").textContent = c.overdue;
    document.getElementById("c-ontime").textContent = c.on_time_rate == null ? "–" : Math.round(c.on_time_rate * 100) + "%";
  }
  // "HH:MM" today, "HH:MM dd/mm" before: the feed spans days when it is quiet.
  function when(iso) {
    if (!iso) return "";
    var d = new Date(iso), now = new Date();
    var today = d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth() && d.getDate() === now.getDate();
    return iso.slice(11, 16) + (today ? "" : " " + iso.slice(8, 10) + "/" + iso.slice(5, 7));
  }
  function addReport(r, fresh) {
    var ul = document.getElementById("ioc-feed");
    var li = document.createElement("li");
    li.className = fresh ? "new" : ""; li.dataset.code = r.code;
    li.textContent = r.code + " · " + r.category + (r.commune ? " · " + r.commune : "") + " · " + when(r.created_at);
    ul.insertBefore(li, ul.firstChild);
    while (ul.children.length > 12) ul.removeChild(ul.lastChild);
    if (fresh) {
      L.circleMarker([r.lat, r.lon], { radius: 10, color: "#51cf66", weight: 3, fillOpacity: 0.8, className: "ioc-new" }).addTo(newLayer);
      showView("feed");
    }
  }
  function refreshState() {
    getJSON("/api/v1/ioc/state/?" + q).then(function (s) {
      setCounters(s.counters);
      var tb = document.getElementById("ioc-ranking"); tb.innerHTML = "";
      s.ranking.forEach(function (e) {
        var tr = document.createElement("tr");
        tr.innerHTML = "<td>" + e.rank + "</td><td></td><td>" + e.score + "</td><td>" + (e.on_time_rate == null ? "–" : Math.round(e.on_time_rate * 100) + "%") + "</td>";
        tr.children[1].textContent = e.name; tb.appendChild(tr);
      });
      if (!document.getElementById("ioc-feed").children.length) s.latest.slice().reverse().forEach(function (r) { addReport(r, false); });
    });
  }
  refreshState();
  setInterval(refreshState, 60000);
  setInterval(function () { loadHotspots(); loadOverdue(); }, 120000);

  // Rotating views.
  var views = Array.prototype.slice.call(document.querySelectorAll(".ioc-view"));
  var current = 0;
  function showView(name) {
    views.forEach(function (v, i) { var on = v.dataset.view === name; v.classList.toggle("active", on); if (on) current = i; });
    document.getElementById("ioc-dots").textContent = views.map(function (v, i) { return i === current ? "●" : "○"; }).join(" ");
  }
  showView("feed");
  setInterval(function () { showView(views[(current + 1) % views.length].dataset.view); }, 1000 * parseInt(root.dataset.rotate, 10));
  setInterval(function () { document.getElementById("ioc-clock").textContent = new Date().toLocaleTimeString("vi-VN", { hour: "2-digit", minute: "2-digit", timeZone: "Asia/Ho_Chi_Minh" }); }, 1000);

  // Server-sent events: new reports within seconds.
  var url = "/ioc/events?" + q + "&last_id=" + root.dataset.lastId + (root.dataset.sseOnce === "1" ? "&once=1" : "");
  var es = new EventSource(url);
  window.iocEvents = es;
  es.addEventListener("report", function (e) { addReport(JSON.parse(e.data), true); });
  es.addEventListener("counters", function (e) { setCounters(JSON.parse(e.data)); });
})();
