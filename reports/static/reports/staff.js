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

/* The desk's blur editor (staff page, "edit_blur"): the unblurred original with the
   blurred regions drawn on it. Drag on the photo (mouse, pen or touch) to add a box,
   "Bỏ" removes one, the numeric fields add one from the keyboard; the form posts the
   whole list (JSON, relative 0..1) and the server renders the public copy again. */
(function () {
  "use strict";
  var stringsEl = document.getElementById("blur-strings");
  var S = stringsEl ? JSON.parse(stringsEl.textContent) : {};
  function pct(v) { return (v * 100).toFixed(1) + "%"; }
  function clamp(v) { return Math.min(1, Math.max(0, v)); }

  document.querySelectorAll(".blur-form").forEach(function (form) {
    var input = form.querySelector(".blur-regions");
    var stage = form.querySelector(".blur-stage");
    var layer = form.querySelector(".blur-boxes");
    var list = form.querySelector(".blur-list");
    var regions;
    try { regions = JSON.parse(input.value || "[]"); } catch (e) { regions = []; }

    function render() {
      input.value = JSON.stringify(regions);
      layer.textContent = "";
      list.textContent = "";
      regions.forEach(function (r, i) {
        var box = document.createElement("div");
        box.className = "blur-box blur-" + (r.kind || "manual");
        box.style.left = pct(r.x); box.style.top = pct(r.y);
        box.style.width = pct(r.w); box.style.height = pct(r.h);
        layer.appendChild(box);
        var li = document.createElement("li");
        li.textContent = (S[r.kind] || r.kind || "") + ": " + pct(r.x) + ", " + pct(r.y) + " — " + pct(r.w) + " × " + pct(r.h) + " ";
        var rm = document.createElement("button");
        rm.type = "button"; rm.className = "btn blur-remove"; rm.textContent = S.remove || "×";
        rm.addEventListener("click", function () { regions.splice(i, 1); render(); });
        li.appendChild(rm);
        list.appendChild(li);
      });
      if (!regions.length) {
        var li = document.createElement("li"); li.className = "muted"; li.textContent = S.none || ""; list.appendChild(li);
      }
    }

    function add(x, y, w, h) {
      x = clamp(x); y = clamp(y); w = Math.min(clamp(w), 1 - x); h = Math.min(clamp(h), 1 - y);
      if (w < 0.002 || h < 0.002) return;
      regions.push({ x: +x.toFixed(5), y: +y.toFixed(5), w: +w.toFixed(5), h: +h.toFixed(5), kind: "manual" });
      render();
    }

    var start = null, ghost = null;
    function rel(ev) {
      var b = stage.getBoundingClientRect();
      return { x: clamp((ev.clientX - b.left) / b.width), y: clamp((ev.clientY - b.top) / b.height) };
    }
    stage.addEventListener("pointerdown", function (ev) {
      if (ev.button !== undefined && ev.button !== 0) return;
      ev.preventDefault();
      start = rel(ev);
      stage.setPointerCapture(ev.pointerId);
      ghost = document.createElement("div");
      ghost.className = "blur-box blur-ghost";
      layer.appendChild(ghost);
    });
    stage.addEventListener("pointermove", function (ev) {
      if (!start) return;
      var p = rel(ev);
      ghost.style.left = pct(Math.min(p.x, start.x)); ghost.style.top = pct(Math.min(p.y, start.y));
      ghost.style.width = pct(Math.abs(p.x - start.x)); ghost.style.height = pct(Math.abs(p.y - start.y));
    });
    function finish(ev) {
      if (!start) return;
      var p = rel(ev), s = start;
      start = null;
      if (ghost) { ghost.remove(); ghost = null; }
      add(Math.min(p.x, s.x), Math.min(p.y, s.y), Math.abs(p.x - s.x), Math.abs(p.y - s.y));
    }
    stage.addEventListener("pointerup", finish);
    stage.addEventListener("pointercancel", function () { start = null; if (ghost) { ghost.remove(); ghost = null; } });

    function addTyped() {
      function val(cls) { return parseFloat(form.querySelector(cls).value) / 100; }
      add(val(".blur-x"), val(".blur-y"), val(".blur-w"), val(".blur-h"));
    }
    form.querySelector(".blur-add").addEventListener("click", addTyped);
    // Enter in a numeric field adds the box (it would otherwise submit the form without it)
    form.querySelectorAll(".blur-numeric input").forEach(function (el) {
      el.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { ev.preventDefault(); addTyped(); } });
    });
    render();
  });
})();
