/* Citizen intake: pin on a map of the province's communes over the basemap,
   commune search, "use my location", routing preview, nearby reports, idempotent submit. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("intake-config").textContent);
  var T = cfg.i18n || {};
  var form = document.getElementById("intake-form");
  var latIn = document.getElementById("lat"), lonIn = document.getElementById("lon");
  var keyIn = document.getElementById("idempotency_key");
  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "k" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }
  keyIn.value = newKey();

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text != null) e.textContent = text;  // never innerHTML with data
    return e;
  }

  if (cfg.markerIcons) { L.Icon.Default.imagePath = ""; L.Icon.Default.mergeOptions(cfg.markerIcons); }
  var map = L.map("map", { zoomControl: true, preferCanvas: true }).setView([20.95, 107.07], 10);
  map.getContainer().style.background = "#cfe3f1";  // sea
  GeoPortal.basemap(map);
  window.intakeMap = map;  // for tests and debugging
  var communeLayer = L.geoJSON(null, {
    style: function () { return GeoPortal.overBasemap({ color: "#4a6a87", weight: 1, fillColor: "#f3f1e7", fillOpacity: 1 }, 0.05); },
    onEachFeature: function (f, layer) { layer.bindTooltip(props(f).name, { sticky: true, direction: "top", opacity: 0.8 }); }
  }).addTo(map);
  communeLayer.on("click", function (e) { setPin(e.latlng); });
  map.on("click", function (e) { setPin(e.latlng); });
  var marker = null, communes = [];

  function props(f) {
    var p = f.properties || {};
    return { name: p.name || p.name_vi || p.full_name || "", code: p.code || p.ward_code || "" };
  }

  function loadProvince(pc) {
    var status = document.getElementById("map-hint");
    var old = status.textContent;
    status.textContent = T.loading || "…";
    var url = cfg.boundaryUrl + (cfg.boundaryUrl.indexOf("?") >= 0 ? "&" : "?") +
      "province=" + encodeURIComponent(pc);
    return fetch(url, { headers: { Accept: "application/geo+json, application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (gj) {
        // Built off the map, then added once at the province's view: the communes are
        // projected and drawn once, not at the first view and again after the fit (on a
        // slow phone that second pass costs as much as the first).
        map.removeLayer(communeLayer);
        communeLayer.clearLayers();
        communeLayer.addData(gj);
        communes = [];
        communeLayer.eachLayer(function (l) { communes.push({ p: props(l.feature), layer: l }); });
        communes.sort(function (a, b) { return a.p.name.localeCompare(b.p.name, "vi"); });
        if (communes.length) map.fitBounds(communeLayer.getBounds(), { animate: false });
        communeLayer.addTo(map);
        map.getContainer().setAttribute("data-communes", String(communes.length));
        status.textContent = old;
        // "Usable" (bench/pages.py): the form is in the page (this script runs after it) and
        // the map has drawn the communes, which happens by the next animation frame.
        if (window.performance && performance.mark && !performance.getEntriesByName("intake-usable").length) {
          requestAnimationFrame(function () { performance.mark("intake-usable"); });
        }
      })
      .catch(function () { status.textContent = old; });
  }

  function fold(s) {
    return (s || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/g, "d").replace(/Đ/g, "D").toLowerCase();
  }
  var search = document.getElementById("commune-search"), results = document.getElementById("commune-results");
  search.addEventListener("input", function () {
    var q = fold(search.value.trim());
    results.textContent = "";
    if (!q) return;
    var hits = communes.filter(function (c) { return fold(c.p.name).indexOf(q) >= 0; }).slice(0, 8);
    if (!hits.length) { results.appendChild(el("li", { "class": "muted" }, T.noMatch)); return; }
    hits.forEach(function (c) {
      var li = el("li"), b = el("button", { type: "button", "class": "linklike", "data-code": c.p.code }, c.p.name);
      b.addEventListener("click", function () {
        map.fitBounds(c.layer.getBounds());
        results.textContent = "";
        search.value = c.p.name;
      });
      li.appendChild(b);
      results.appendChild(li);
    });
  });

  document.getElementById("province").addEventListener("change", function (e) { loadProvince(e.target.value); });

  // --- pin suggestion (phone): the photo's GPS or the phone's location, confirmed by the citizen ---
  // A suggested pin (draggable) and "Use this location?"; confirming makes it the pin. Tapping
  // the map still places the pin directly.
  // Which wins: the photo's GPS was fixed where the problem was photographed; the phone's
  // location is where the citizen stands now, often later and coarser (cell/Wi-Fi). So a
  // photo's place is suggested whenever a photo has one, and the phone's location (asked for
  // with the button, never silently) replaces it only when it is farther from the photo's
  // place than its own accuracy (at least 100 m): then the citizen has moved, or the photo
  // is an old one, and the place they just asked for is the better guess.
  var suggestBox = document.getElementById("pin-suggestion"), suggested = null, photoPlace = null;
  function suggest(ll, text) {
    if (!suggested) {
      suggested = L.marker(ll, { draggable: true, autoPan: true, opacity: 0.75, title: T.suggestedPin || "" }).addTo(map);
      suggested.getElement().classList.add("suggested-pin");
    } else {
      suggested.setLatLng(ll);
    }
    map.setView(ll, 16, { animate: false });
    document.getElementById("pin-suggestion-text").textContent = text;
    suggestBox.hidden = false;
    // The photo is chosen at the top of the form: bring the map and the question into sight.
    if (suggestBox.scrollIntoView) suggestBox.scrollIntoView({ block: "nearest" });
  }
  function dropSuggestion() {
    if (suggested) { map.removeLayer(suggested); suggested = null; }
    suggestBox.hidden = true;
  }
  document.getElementById("use-suggested").addEventListener("click", function () {
    if (!suggested) return;
    var ll = suggested.getLatLng();
    dropSuggestion();
    setPin(ll);
  });
  document.getElementById("dismiss-suggested").addEventListener("click", dropSuggestion);
  document.getElementById("photos").addEventListener("photos-prepared", function (e) {
    var g = e.detail && e.detail.gps;
    photoPlace = g ? L.latLng(g.latitude, g.longitude) : null;
    if (photoPlace) suggest(photoPlace, T.photoPlace);
  });

  document.getElementById("use-location").addEventListener("click", function () {
    if (!navigator.geolocation) { alert(T.geoFailed); return; }
    navigator.geolocation.getCurrentPosition(function (pos) {
      var ll = L.latLng(pos.coords.latitude, pos.coords.longitude), acc = pos.coords.accuracy || 0;
      if (photoPlace && ll.distanceTo(photoPlace) <= Math.max(acc, 100)) { suggest(photoPlace, T.photoPlace); return; }
      photoPlace = null;
      suggest(ll, T.devicePlace.replace("%(m)s", String(Math.round(acc))));
    }, function () { alert(T.geoFailed); }, { enableHighAccuracy: true, timeout: 15000 });
  });

  function setPin(ll) {
    if (!marker) {
      marker = L.marker(ll, { draggable: true, autoPan: true }).addTo(map);
      marker.on("dragend", function () { pinMoved(marker.getLatLng()); });
    } else {
      marker.setLatLng(ll);
    }
    pinMoved(ll);
  }
  function pinMoved(ll) {
    latIn.value = ll.lat.toFixed(6);
    lonIn.value = ll.lng.toFixed(6);
    clearError("location"); clearError("lat"); clearError("lon");
    preview();
    form.dispatchEvent(new CustomEvent("intake:pin", { bubbles: true }));  // the draft is saved (offline-intake.js)
  }

  function selectedCategory() {
    var c = form.querySelector("input[name=category]:checked");
    return c ? c.value : "";
  }
  form.querySelectorAll("input[name=category]").forEach(function (r) {
    r.addEventListener("change", function () { clearError("category"); preview(); });
  });

  var seq = 0;
  function preview() {
    var box = document.getElementById("routing-box"), text = document.getElementById("routing-text");
    if (!latIn.value) return;
    var cat = selectedCategory(), mine = ++seq;
    box.hidden = false;
    var q = "lat=" + latIn.value + "&lon=" + lonIn.value + (cat ? "&category=" + encodeURIComponent(cat) : "");
    fetch(cfg.locateUrl + "?" + q, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (d) { return { ok: r.ok, d: d }; }); })
      .then(function (res) {
        if (mine !== seq) return;
        var d = res.d || {};
        var commune = pickCommune(d), auth = pickAuthority(d);
        text.textContent = "";
        if (!commune) {
          text.appendChild(el("span", { "class": "form-error" }, d.message || T.outside));
          return;
        }
        var s1 = el("span", { id: "routing-commune" }, T.commune + ": " + commune);
        text.appendChild(s1);
        text.appendChild(document.createTextNode(" — "));
        var s2 = el("span", { id: "routing-authority" },
          T.authority + ": " + (cat ? (auth || T.noAuthority) : T.pickCategory));
        text.appendChild(s2);
        if (d.snapped_m) text.appendChild(el("div", { "class": "hint" }, T.snapped + " (" + T.metres + " " + Math.round(d.snapped_m) + " m)"));
      })
      .catch(function () {});
    if (cat) nearby(q, mine); else document.getElementById("nearby").hidden = true;
  }
  function pickCommune(d) {
    if (d.commune) return typeof d.commune === "string" ? d.commune : d.commune.name;
    var areas = d.areas || (d.properties && d.properties.areas) || [];
    for (var i = areas.length - 1; i >= 0; i--) {
      var t = areas[i].type || areas[i].type_code;
      if (t === "commune" || t === "city-ward" || (t && t.code === "commune")) return areas[i].name;
    }
    return areas.length ? areas[areas.length - 1].name : "";
  }
  function pickAuthority(d) {
    var a = d.authority || (d.routing && d.routing.authority);
    if (!a) return "";
    return typeof a === "string" ? a : a.name;
  }
  function nearby(q, mine) {
    var wrap = document.getElementById("nearby"), list = document.getElementById("nearby-list");
    fetch(cfg.nearbyUrl + "?" + q, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { features: [] }; })
      .then(function (d) {
        if (mine !== seq) return;
        var feats = d.features || d.results || (d.results && d.results.features) || [];
        if (d.results && d.results.features) feats = d.results.features;
        list.textContent = "";
        feats.slice(0, 5).forEach(function (f) {
          var p = f.properties || f, code = p.code;
          if (!code) return;
          var li = el("li");
          li.appendChild(el("strong", null, code));
          var desc = (p.description || p.title || p.category_name || "").slice(0, 90);
          li.appendChild(document.createTextNode(" " + desc + (p.distance_m != null ? " (" + Math.round(p.distance_m) + " m)" : "") + " "));
          var a = el("a", { href: "/phan-anh/" + encodeURIComponent(code) + "/", target: "_blank" }, T.view);
          li.appendChild(a);
          li.appendChild(document.createTextNode(" "));
          if (cfg.signedIn) {
            var f2 = el("form", { method: "post", action: cfg.followUrl.replace("{code}", encodeURIComponent(code)), "class": "inline" });
            f2.appendChild(form.querySelector("input[name=csrfmiddlewaretoken]").cloneNode());
            f2.appendChild(el("button", { type: "submit", "class": "btn small" }, T.follow));
            li.appendChild(f2);
          } else {
            li.appendChild(el("a", { "class": "btn small", href: cfg.loginUrl + "?next=" + encodeURIComponent(cfg.followUrl.replace("{code}", encodeURIComponent(code))) }, T.loginToFollow));
          }
          list.appendChild(li);
        });
        wrap.hidden = !list.children.length;
      })
      .catch(function () { wrap.hidden = true; });
  }

  // Client-side size hints; the server is the authority.
  var photos = document.getElementById("photos"), video = document.getElementById("video"), hint = document.getElementById("media-hint");
  function checkMedia() {
    var msgs = [];
    if (photos.files.length > cfg.maxPhotos) msgs.push(T.tooManyPhotos);
    Array.prototype.forEach.call(photos.files, function (f) { if (f.size > cfg.maxPhotoMb * 1048576) msgs.push(T.photoTooBig + " " + f.name); });
    if (video.files[0] && video.files[0].size > cfg.maxVideoMb * 1048576) msgs.push(T.videoTooBig);
    hint.textContent = msgs.join(" ");
    hint.className = msgs.length ? "form-error" : "hint";
    return !msgs.length;
  }
  // Checked once photo-prep.js has put the downsized photos in the input (its GPS: above).
  photos.addEventListener("photos-prepared", checkMedia);
  video.addEventListener("change", checkMedia);

  function clearError(field) {
    form.querySelectorAll('[data-error-for="' + field + '"]').forEach(function (e) { e.textContent = ""; });
  }
  function showErrors(errors) {
    form.querySelectorAll("[data-error-for]").forEach(function (e) { e.textContent = ""; });
    var first = null;
    Object.keys(errors).forEach(function (field) {
      var target = form.querySelector('[data-error-for="' + field + '"]') || form.querySelector('[data-error-for="__all__"]');
      var msg = [].concat(errors[field]).join(" ");
      target.textContent = (target.textContent ? target.textContent + " " : "") + msg;
      if (!first) first = target;
    });
    if (first) first.scrollIntoView({ block: "center" });
  }

  var busy = false, btn = document.getElementById("submit-btn"), status = document.getElementById("submit-status");
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (busy) return;  // a double click sends once; a retry reuses the same key
    var errs = {};
    if (!latIn.value) errs.location = T.noPin;
    if (!checkMedia()) errs.photos = hint.textContent;
    if (Object.keys(errs).length) { showErrors(errs); return; }
    if (intakePage.submitHandler) { intakePage.submitHandler(); return; }  // offline-tolerant sending
    busy = true; btn.disabled = true; status.textContent = T.sending;
    // Photos still being downsized are waited for: the full-size originals are never sent.
    var prepared = (window.photoPrep && window.photoPrep.pending) || Promise.resolve();
    prepared.then(function () {
      var fd = new FormData(form);
      return fetch(cfg.submitUrl, {
        method: "POST", body: fd, credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": fd.get("csrfmiddlewaretoken"), "Idempotency-Key": keyIn.value }
      });
    }).then(function (r) {
      return r.json().then(function (d) { return { status: r.status, d: d }; });
    }).then(function (res) {
      if (res.status === 201 || res.status === 200) { window.location.href = res.d.done || res.d.url; return; }
      busy = false; btn.disabled = false;
      status.textContent = T.fixErrors;
      showErrors(res.d.errors || { __all__: [res.d.detail || T.failed] });
    }).catch(function () {
      busy = false; btn.disabled = false; status.textContent = T.failed;
    });
  });

  // Hooks for offline-intake.js (draft restore, queued sending), which sets submitHandler.
  var intakePage = window.intakePage = {
    cfg: cfg, form: form, showErrors: showErrors, submitHandler: null,
    setPin: function (lat, lon) {
      var ll = L.latLng(lat, lon);
      setPin(ll);
      map.setView(ll, Math.max(map.getZoom(), 15), { animate: false });
    }
  };

  loadProvince(cfg.province);
})();
