"""The intake page on a cheap phone (issue 10, item 3): bytes, time until usable, and the
upload of a phone photo downsized in the browser against the original.

    .venv/bin/python bench/pages.py [--url http://127.0.0.1:8000] [--runs 3] [--skip-upload]

Without --url it serves the portal the way scripts/run does (gunicorn, uvicorn workers,
geo_portal.asgi, DEBUG off, static files collected: hashed names, gzip/brotli from
WhiteNoise) on a free loopback port against DATABASE_URL, which must hold the demo
(scripts/run or manage.py load_demo), with RATELIMIT_ENABLE=0.

Chromium (Playwright, /usr/bin/chromium), 390×844 px, each page throttled through CDP:
- network "slow 3G": 400 ms round trip, 400 kbit/s down, 400 kbit/s up
  (Network.emulateNetworkConditions; cache left on);
- CPU 4× slower (Emulation.setCPUThrottlingRate 4: the renderer's main thread).

Measured, --runs times each, median printed:
- bytes transferred on the wire (CDP Network.loadingFinished encodedDataLength: compressed
  bodies plus headers) on the first visit (fresh profile, empty cache) and on a repeat visit
  (same profile: warm HTTP cache; and, where the portal registers a service worker, once it
  controls the page), basemap tiles excluded and counted apart (target ≤ 300 KB);
- time until the intake form is usable, from the start of navigation: the moment intake.js
  sets the `intake-usable` performance mark — the form's photo input and submit button are in
  the page and enabled, and the map has drawn the province's communes (an animation frame
  after they were added) — checked again by the bench (targets ≤ 5 s first, ≤ 1.5 s repeat);
- a report with one 12 MP phone photo of ~4 MB sent through the page (fetch of FormData to
  the intake's submit URL, timed in the page from the choice of the photo to the 201):
  the photo downsized by photo-prep.js (time to prepare + time to send) against the
  original file sent as it is.
Prints every figure with the data sizes, the targets, and the load average. Loopback only;
every wait is bounded.
"""

import argparse
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import live  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
SLOW_3G = {"offline": False, "latency": 400, "downloadThroughput": 400_000 / 8, "uploadThroughput": 400_000 / 8}
CPU_SLOWDOWN = 4
TILES = re.compile(r"/tiles?/|\.pmtiles|\.pbf|\.mvt|/basemap/")
BUDGET_BYTES = 300 * 1024
USABLE_FIRST_S, USABLE_REPEAT_S = 5.0, 1.5
INTAKE = "/phan-anh/moi/"
WAIT_MS = 120_000


def start_server(workers=2):
    env = {**os.environ, "RATELIMIT_ENABLE": "0", "NOTIFY_DISPATCH": "none", "DEBUG": "0",
           "DJANGO_SETTINGS_MODULE": "geo_portal.settings"}
    if not env.get("SECRET_KEY") and not (ROOT / "var" / "secret_key").is_file():
        env["SECRET_KEY"] = secrets.token_urlsafe(50)
    # The static files as production serves them: hashed names, compressed copies.
    subprocess.run([str(ROOT / ".venv/bin/python"), "manage.py", "collectstatic", "--noinput", "-v0"],
                   cwd=ROOT, env=env, check=True)
    return live.start_server(workers, env=env)


def phone_photo(path, size=(4000, 3000), noise=22, quality=88):
    """A 12 MP photo that weighs what a phone's does (~4 MB): a gradient with sensor-like
    noise, EXIF GPS in Hạ Long."""
    import numpy as np
    from PIL import Image
    from PIL.TiffImagePlugin import IFDRational

    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (w + h)], -1).astype(np.int16)
    rng = np.random.default_rng(7)
    base += rng.integers(-noise, noise + 1, (h // 2 + 1, w // 2 + 1, 3), dtype=np.int16).repeat(2, 0).repeat(
        2, 1)[:h, :w]
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (IFDRational(20, 1), IFDRational(57, 1), IFDRational(1124, 100)),
                    3: "E", 4: (IFDRational(107, 1), IFDRational(2, 1), IFDRational(2844, 100))}
    Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=quality, exif=exif)
    return path


class Wire:
    """Bytes on the wire per request of one page (CDP Network events)."""

    def __init__(self, page):
        self.cdp = page.context.new_cdp_session(page)
        self.urls, self.bytes, self.from_cache = {}, {}, set()
        self.cdp.on("Network.requestWillBeSent", lambda e: self.urls.__setitem__(e["requestId"], e["request"]["url"]))
        self.cdp.on("Network.requestServedFromCache", lambda e: self.from_cache.add(e["requestId"]))
        self.cdp.on("Network.loadingFinished",
                    lambda e: self.bytes.__setitem__(e["requestId"], e.get("encodedDataLength", 0)))
        self.cdp.send("Network.enable")
        self.cdp.send("Network.emulateNetworkConditions", SLOW_3G)
        self.cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})

    def reset(self):
        self.urls.clear()
        self.bytes.clear()
        self.from_cache.clear()

    def totals(self):
        pages = tiles = 0
        rows = []
        for rid, n in self.bytes.items():
            url = self.urls.get(rid, "?")
            if TILES.search(url):
                tiles += n
            else:
                pages += n
            rows.append((n, url))
        return pages, tiles, sorted(rows, reverse=True)


def visit(page, wire, url):
    """Navigate and wait until the page says the form is usable; returns (seconds, bytes,
    tile bytes, per-request rows, service worker in control, when the communes' last byte
    arrived)."""
    wire.reset()
    page.goto(url, wait_until="commit", timeout=WAIT_MS)
    page.wait_for_function("() => performance.getEntriesByName('intake-usable').length > 0", timeout=WAIT_MS,
                           polling=50)
    usable_ms = page.evaluate("() => performance.getEntriesByName('intake-usable')[0].startTime")
    # The bench's own check of what the mark claims.
    state = page.evaluate("""() => { const b = document.getElementById('submit-btn'),
        p = document.getElementById('photos'), m = document.getElementById('map');
        return { submit: !!b && !b.disabled && b.offsetParent !== null, photo: !!p && !p.disabled,
                 communes: Number(m && m.dataset.communes || 0),
                 drawn: !!m && m.querySelectorAll('canvas, path').length > 0,
                 sw: !!(navigator.serviceWorker && navigator.serviceWorker.controller),
                 layerEnd: Math.max(0, ...performance.getEntriesByType('resource')
                   .filter(r => r.name.includes('.geojson')).map(r => r.responseEnd)) }; }""")
    assert state["submit"] and state["photo"] and state["communes"] > 0 and state["drawn"], state
    page.wait_for_load_state("networkidle", timeout=WAIT_MS)  # count what arrives after the mark too
    pages, tiles, rows = wire.totals()
    return usable_ms / 1000, pages, tiles, rows, state["sw"], state["layerEnd"] / 1000


def upload(page, wire, url, photo, downsized):
    """One report with `photo` sent through the intake page; returns (prepare s, send s,
    bytes of the photo sent)."""
    page.goto(url, wait_until="load", timeout=WAIT_MS)
    page.wait_for_function("() => performance.getEntriesByName('intake-usable').length > 0", timeout=WAIT_MS)
    page.evaluate("""() => { const i = document.createElement('input'); i.type = 'file'; i.id = 'bench-original';
        i.hidden = true; document.body.appendChild(i);
        window.benchPrepared = null;
        document.getElementById('photos').addEventListener('photos-prepared',
          () => { window.benchPrepared = performance.now(); }); }""")
    t0 = page.evaluate("() => performance.now()")
    if downsized:
        page.set_input_files("#photos", str(photo))
        page.wait_for_function("() => window.benchPrepared !== null", timeout=WAIT_MS)
        t1 = page.evaluate("() => window.benchPrepared")
    else:
        page.set_input_files("#bench-original", str(photo))
        t1 = t0
    wire.reset()
    result = page.evaluate("""async (downsized) => {
        const form = document.getElementById('intake-form');
        const cat = form.querySelector('input[name=category]'); cat.checked = true;
        document.getElementById('lat').value = '20.952600'; document.getElementById('lon').value = '107.040800';
        document.getElementById('description').value = 'Bench: ảnh điện thoại ' + (downsized ? 'thu nhỏ' : 'gốc');
        const fd = new FormData(form);
        if (!downsized) fd.set('photos', document.getElementById('bench-original').files[0]);
        const sent = fd.getAll('photos').reduce((n, f) => n + f.size, 0);
        const cfg = JSON.parse(document.getElementById('intake-config').textContent);
        const t = performance.now();
        const r = await fetch(cfg.submitUrl, { method: 'POST', body: fd, credentials: 'same-origin',
          headers: { Accept: 'application/json', 'X-CSRFToken': fd.get('csrfmiddlewaretoken') } });
        await r.text();
        return { status: r.status, ms: performance.now() - t, sent: sent };
    }""", downsized)
    assert result["status"] == 201, result
    return (t1 - t0) / 1000, result["ms"] / 1000, result["sent"]


def kb(n):
    return f"{n / 1024:,.0f} KB"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-upload", action="store_true")
    ap.add_argument("--verbose", action="store_true", help="print every request of the first visit")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    proc = None
    url = args.url
    if not url:
        proc, url = start_server()
    intake_url = url + INTAKE
    first, repeat, sw_repeat = [], [], []
    try:
        with sync_playwright() as pw, tempfile.TemporaryDirectory() as tmp:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            last_rows = []
            for _ in range(args.runs):
                ctx = browser.new_context(locale="vi-VN", viewport={"width": 390, "height": 844},
                                          is_mobile=True, has_touch=True, device_scale_factor=2)
                page = ctx.new_page()
                wire = Wire(page)
                s, b, t, rows, _sw, layer_end = visit(page, wire, intake_url)
                first.append((s, b, t, layer_end))
                last_rows = rows
                s, b, t, _rows, sw, layer_end = visit(page, wire, intake_url)
                repeat.append((s, b, t, layer_end))
                if sw:  # a third visit once the service worker controls the page
                    r = visit(page, wire, intake_url)
                    sw_repeat.append((*r[:3], r[5]))
                ctx.close()
            if args.verbose:
                for n, u in last_rows:
                    print(f"    {n:>9,} B  {u.replace(url, '')}")

            uploads = {}
            if not args.skip_upload:
                photo = phone_photo(Path(tmp) / "IMG_20261205_0930.jpg")
                for downsized in (True, False):
                    ctx = browser.new_context(locale="vi-VN", viewport={"width": 390, "height": 844},
                                              is_mobile=True, has_touch=True)
                    page = ctx.new_page()
                    page.set_default_timeout(WAIT_MS * 3)
                    wire = Wire(page)
                    uploads[downsized] = upload(page, wire, intake_url, photo, downsized)
                    ctx.close()
            browser.close()
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()

    def med(rows, i):
        return statistics.median(r[i] for r in rows)

    print(f"intake page {INTAKE} on a cheap phone — Chromium 390×844, slow 3G (400 ms RTT, 400 kbit/s down, "
          f"400 kbit/s up), CPU {CPU_SLOWDOWN}× slower; median of {args.runs} runs")
    print("  requests on the first visit (largest first): "
          + ", ".join(f"{u.replace(url, '').split('?')[0].rsplit('/', 1)[-1] or '/'} {kb(n)}"
                      for n, u in last_rows[:8]))
    for name, rows, target in (("first visit (empty cache)", first, USABLE_FIRST_S),
                               ("repeat visit (HTTP cache)", repeat, USABLE_REPEAT_S),
                               ("repeat visit (service worker)", sw_repeat, USABLE_REPEAT_S)):
        if not rows:
            print(f"  {name}: no service worker controls the page")
            continue
        b, s, t = med(rows, 1), med(rows, 0), med(rows, 2)
        print(f"  {name}: {kb(b)} transferred (target ≤ {kb(BUDGET_BYTES)}: {b / BUDGET_BYTES:.2f}× the budget), "
              f"basemap tiles {kb(t)} apart; usable after {s:.2f} s (target ≤ {target} s: {s / target:.2f}×); "
              f"the communes' last byte at {med(rows, 3):.2f} s")
    if uploads:
        prep, send_small, small = uploads[True]
        _p, send_big, big = uploads[False]
        total_small = prep + send_small
        print(f"  one report with a {big / 1e6:.1f} MB 12 MP phone photo (4000×3000 JPEG), timed in the page:")
        print(f"    downsized on the phone: {small / 1e6:.2f} MB sent; prepared in {prep:.1f} s + sent in "
              f"{send_small:.1f} s = {total_small:.1f} s")
        print(f"    original as it is:      {big / 1e6:.2f} MB sent in {send_big:.1f} s")
        print(f"    downsized / original: {small / big:.2f}× the bytes, {total_small / send_big:.2f}× the time")
    print(f"  load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores)")


if __name__ == "__main__":
    main()
