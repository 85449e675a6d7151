/* Photos prepared on the phone before they are sent (issue 10, "light on a cheap phone").

   When photos are chosen (the camera input #photos, or the gallery input feeding it), each
   photo's EXIF GPS is read first (exifr, loaded only then), then the photo is downsized in
   the browser to a JPEG whose longest side is at most 2048 px (EXIF orientation applied to
   the pixels), and #photos is given the prepared files in place of the originals
   (DataTransfer), so whoever sends the form (intake.js, offline-intake.js) sends them.
   Then `photos-prepared` is dispatched on #photos with
   {files, gps: {latitude, longitude} | null, originalBytes, preparedBytes}.

   Left as they are: files that are not images (a video), small photos (longest side within
   the limit and under KEEP_BYTES: re-encoding would cost quality for little gain), and
   photos this browser cannot decode (HEIC on most browsers: the server converts them).
   The gallery input is named "photos" too, for a browser without JavaScript; here it is
   emptied once its photos are in #photos, so they are sent once. */
(function () {
  "use strict";
  var cfgEl = document.getElementById("photo-prep-config");
  var camera = document.getElementById("photos");
  if (!cfgEl || !camera) return;
  var cfg = JSON.parse(cfgEl.textContent);
  var T = cfg.i18n || {};
  var MAX_SIDE = cfg.maxSide || 2048, QUALITY = cfg.quality || 0.85;
  var KEEP_BYTES = cfg.keepBytes || 512 * 1024, MAX_FILES = cfg.maxPhotos || 5;
  var KEEP_TYPES = { "image/jpeg": 1, "image/png": 1, "image/webp": 1 };  // the server takes them as they are
  var gallery = document.getElementById("photos-gallery");
  var note = document.getElementById("photo-prep-note");
  var clearBtn = document.getElementById("photos-clear");
  var submitBtn = document.getElementById("submit-btn");

  // The photos already chosen: the camera gives one photo a shot, so each choice adds to them.
  var chosen = [];
  var pending = Promise.resolve();

  var exifrLoading = null;
  function loadExifr() {  // ~46 KB: fetched when a photo is chosen, not with the page
    if (window.exifr) return Promise.resolve(window.exifr);
    if (!exifrLoading) {
      exifrLoading = new Promise(function (resolve) {
        var s = document.createElement("script");
        s.src = cfg.exifrUrl;
        s.onload = function () { resolve(window.exifr || null); };
        s.onerror = function () { exifrLoading = null; resolve(null); };
        document.head.appendChild(s);
      });
    }
    return exifrLoading;
  }

  function readGps(file) {
    return loadExifr().then(function (exifr) {
      if (!exifr || !exifr.gps) return null;
      return exifr.gps(file).then(function (g) {
        if (!g || !isFinite(g.latitude) || !isFinite(g.longitude)) return null;
        if (g.latitude === 0 && g.longitude === 0) return null;  // an unset fix, as the server reads it
        return { latitude: g.latitude, longitude: g.longitude };
      });
    }).catch(function () { return null; });
  }

  function decode(file) {
    // createImageBitmap applies the EXIF orientation with "from-image"; an <img> (CSS
    // image-orientation: from-image, the default) where it is missing or fails.
    if (window.createImageBitmap) {
      return createImageBitmap(file, { imageOrientation: "from-image" }).catch(function () { return decodeWithImg(file); });
    }
    return decodeWithImg(file);
  }
  function decodeWithImg(file) {
    return new Promise(function (resolve, reject) {
      var url = URL.createObjectURL(file), img = new Image();
      img.onload = function () { URL.revokeObjectURL(url); resolve(img); };
      img.onerror = function () { URL.revokeObjectURL(url); reject(new Error("decode")); };
      img.src = url;
    });
  }
  function sizeOf(src) { return { w: src.naturalWidth || src.width, h: src.naturalHeight || src.height }; }

  function toJpeg(src, w, h) {
    var canvas = document.createElement("canvas");
    canvas.width = w; canvas.height = h;
    var ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff";  // a transparent PNG gets the white background the server would give it
    ctx.fillRect(0, 0, w, h);
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(src, 0, 0, w, h);
    return new Promise(function (resolve, reject) {
      canvas.toBlob(function (b) {
        canvas.width = canvas.height = 0;  // give the pixels back now (phones have little memory)
        if (b) resolve(b); else reject(new Error("encode"));
      }, "image/jpeg", QUALITY);
    });
  }

  // --- a minimal EXIF block with the GPS position only ---------------------------------
  // The canvas drops all metadata. The server keeps a photo's GPS as a hint for the staff
  // (Media.exif_location, never published), so the position alone is written back into
  // the prepared JPEG; the camera model, the time and the rest stay on the phone.
  function gpsExifSegment(lat, lon) {
    var tiff = new DataView(new ArrayBuffer(140));
    var p = 0;
    function u16(v) { tiff.setUint16(p, v); p += 2; }
    function u32(v) { tiff.setUint32(p, v); p += 4; }
    function entry(tag, type, count, value, inlineBytes) {
      u16(tag); u16(type); u32(count);
      if (inlineBytes) { for (var i = 0; i < 4; i++) tiff.setUint8(p + i, inlineBytes[i] || 0); p += 4; } else u32(value);
    }
    function dms(deg, at) {
      deg = Math.abs(deg);
      var d = Math.floor(deg), mf = (deg - d) * 60, m = Math.floor(mf), s = Math.round((mf - m) * 60 * 10000);
      [d, 1, m, 1, s, 10000].forEach(function (v, i) { tiff.setUint32(at + 4 * i, v); });
    }
    u16(0x4d4d); u16(42); u32(8);                        // big-endian TIFF, IFD0 at 8
    u16(1); entry(0x8825, 4, 1, 26); u32(0);             // IFD0: the GPS IFD's offset
    u16(5);                                              // GPS IFD at 26, its values at 92 and 116
    entry(0x0000, 1, 4, 0, [2, 2, 0, 0]);                // GPSVersionID
    entry(0x0001, 2, 2, 0, [lat < 0 ? 83 : 78, 0]);      // "S" / "N"
    entry(0x0002, 5, 3, 92);
    entry(0x0003, 2, 2, 0, [lon < 0 ? 87 : 69, 0]);      // "W" / "E"
    entry(0x0004, 5, 3, 116);
    u32(0);
    dms(lat, 92); dms(lon, 116);
    var seg = new Uint8Array(4 + 6 + 140);
    seg.set([0xff, 0xe1, (seg.length - 2) >> 8, (seg.length - 2) & 0xff, 0x45, 0x78, 0x69, 0x66, 0, 0]);  // APP1 "Exif\0\0"
    seg.set(new Uint8Array(tiff.buffer), 10);
    return seg;
  }
  function withGps(blob, gps) {
    if (!gps) return Promise.resolve(blob);
    return blob.arrayBuffer().then(function (buf) {
      var b = new Uint8Array(buf), at = 2;  // after SOI, and after a JFIF APP0 if there is one
      if (b[2] === 0xff && b[3] === 0xe0) at = 4 + ((b[4] << 8) | b[5]);
      return new Blob([b.subarray(0, at), gpsExifSegment(gps.latitude, gps.longitude), b.subarray(at)], { type: "image/jpeg" });
    });
  }

  function jpegName(name) {
    var stem = (name || "anh").replace(/\.[^.\/]*$/, "");
    return stem + ".jpg";
  }

  // One photo → {file, gps}. Never rejects: a photo that cannot be prepared is sent as it is.
  function prepareOne(file) {
    if (!/^image\//.test(file.type || "") && !/\.(jpe?g|png|webp|heic|heif)$/i.test(file.name || "")) {
      return Promise.resolve({ file: file, gps: null });  // a video or another file: untouched
    }
    return readGps(file).then(function (gps) {
      if (KEEP_TYPES[file.type] && file.size <= KEEP_BYTES) {
        return sideOfSmall(file).then(function (side) {
          if (side && side <= MAX_SIDE) return { file: file, gps: gps };
          return resize(file, gps);
        });
      }
      return resize(file, gps);
    });
  }
  function sideOfSmall(file) {
    return decode(file).then(function (src) {
      var s = sizeOf(src), side = Math.max(s.w, s.h);
      if (src.close) src.close();
      return side;
    }).catch(function () { return 0; });
  }
  function resize(file, gps) {
    return decode(file).then(function (src) {
      var s = sizeOf(src), longest = Math.max(s.w, s.h), scale = Math.min(1, MAX_SIDE / longest);
      var w = Math.max(1, Math.round(s.w * scale)), h = Math.max(1, Math.round(s.h * scale));
      return toJpeg(src, w, h).then(function (blob) {
        if (src.close) src.close();
        // Re-encoding a photo already within the limit made it bigger: keep the original.
        if (longest <= MAX_SIDE && KEEP_TYPES[file.type] && blob.size >= file.size) return { file: file, gps: gps };
        return withGps(blob, gps).then(function (withMeta) {
          return {
            file: new File([withMeta], jpegName(file.name), { type: "image/jpeg", lastModified: file.lastModified || Date.now() }),
            gps: gps
          };
        });
      });
    }).catch(function () { return { file: file, gps: gps }; });
  }

  function fmtBytes(n) {
    var lang = document.documentElement.lang || "vi";
    if (n >= 1024 * 1024) return (n / 1048576).toLocaleString(lang, { maximumFractionDigits: 1 }) + " MB";
    return Math.max(1, Math.round(n / 1024)).toLocaleString(lang) + " KB";
  }

  function setFiles(files) {
    var dt = new DataTransfer();
    files.forEach(function (f) { dt.items.add(f); });
    camera.files = dt.files;
  }

  function prepare(input) {
    var picked = Array.prototype.slice.call(input.files || []);
    // (When #photos itself was chosen, the browser put the new choice in place of what it
    // held; the earlier photos are in `chosen`.)
    var before = chosen.slice();
    if (!picked.length) { setFiles(before); return Promise.resolve(); }
    var wasDisabled = submitBtn ? submitBtn.disabled : false;
    if (submitBtn) submitBtn.disabled = true;  // a send now would carry the full-size originals
    camera.setAttribute("aria-busy", "true");
    note.hidden = false;
    note.className = "hint";
    var originalBytes = 0, preparedBytes = 0, gps = null, out = [], done = 0;
    note.textContent = (T.preparing || "…") + " 0/" + picked.length;
    // One at a time: a 12 MP photo decoded is ~48 MB of memory on the phone.
    var chain = Promise.resolve();
    picked.forEach(function (f) {
      chain = chain.then(function () { return prepareOne(f); }).then(function (r) {
        originalBytes += f.size;
        preparedBytes += r.file.size;
        if (!gps && r.gps) gps = r.gps;
        out.push(r.file);
        done += 1;
        note.textContent = (T.preparing || "…") + " " + done + "/" + picked.length;
      });
    });
    return chain.then(function () {
      var all = before.concat(out);
      var dropped = Math.max(0, all.length - MAX_FILES);
      chosen = all.slice(0, MAX_FILES);
      setFiles(chosen);
      if (input !== camera) input.value = "";
      var text = (T.prepared || "") + " " + fmtBytes(originalBytes) + " → " + fmtBytes(preparedBytes);
      if (dropped) text += " " + (T.tooMany || "");
      note.textContent = text;
      note.setAttribute("data-original-bytes", String(originalBytes));
      note.setAttribute("data-prepared-bytes", String(preparedBytes));
      if (clearBtn) clearBtn.hidden = !chosen.length;
      camera.dispatchEvent(new CustomEvent("photos-prepared", {
        bubbles: true,
        detail: { files: chosen.slice(), gps: gps, originalBytes: originalBytes, preparedBytes: preparedBytes }
      }));
    }).catch(function () {
      // A browser without DataTransfer (or another surprise): the photos go as the browser
      // holds them, full size; the server still takes them.
      note.textContent = "";
      note.hidden = true;
    }).then(function () {
      camera.removeAttribute("aria-busy");
      if (submitBtn) submitBtn.disabled = wasDisabled;
    });
  }

  function onChange(e) {
    var input = e.target;
    pending = pending.then(function () { return prepare(input); });
    window.photoPrep.pending = pending;
  }
  camera.addEventListener("change", onChange);
  if (gallery) gallery.addEventListener("change", onChange);
  if (clearBtn) clearBtn.addEventListener("click", function () {
    chosen = [];
    setFiles([]);
    note.textContent = "";
    note.hidden = true;
    clearBtn.hidden = true;
    camera.dispatchEvent(new CustomEvent("photos-prepared", {
      bubbles: true, detail: { files: [], gps: null, originalBytes: 0, preparedBytes: 0 }
    }));
  });

  // `pending`: resolves once every chosen photo is prepared (the sender waits for it).
  // `restore(files)`: photos already prepared (a saved draft) put back in #photos, so that
  // the next choice adds to them instead of replacing them.
  window.photoPrep = {
    pending: pending,
    restore: function (files) {
      chosen = Array.prototype.slice.call(files || [], 0, MAX_FILES);
      setFiles(chosen);
      if (clearBtn) clearBtn.hidden = !chosen.length;
    }
  };
})();
