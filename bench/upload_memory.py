"""Peak memory of one photo upload (issue 8, item 3: "a decoding budget for images").

    .venv/bin/python bench/upload_memory.py [--root /path/to/another/checkout]

Each case runs in a fresh Python process that sets Django up, reads the photo's bytes,
then sends ONE anonymous ``POST /api/v1/reports/photo-hint`` (the same check a report's
photos get: reports.media.check_photo) through Django's test client. It prints

  * the answer's status,
  * rss+: the process's peak resident memory during the request (VmHWM, reset just
    before it through /proc/self/clear_refs; ru_maxrss cannot be reset and is inherited
    from the parent) minus the resident memory before it — what this one request costs,
    Pillow's pixel buffers included (allocated outside Python: tracemalloc misses them),
  * py-peak: tracemalloc's peak of Python allocations during the request,
  * the wall time of the request.

Target: rss+ ≤ 200 MB for every case. The photos are made in this (parent) process
and handed over as files, so making them never counts. ``--root`` runs the same cases
against another checkout (e.g. main before this change) for a before/after table.
Rate limits are off in the child (RATELIMIT_ENABLE=0): this measures decoding.
"""

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

CHILD = r"""
import io, json, os, sys, time, tracemalloc
sys.path.insert(0, os.environ["BENCH_ROOT"])
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geo_portal.settings")
import django
django.setup()
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
import reports.api, reports.media  # imported before the baseline is taken
client = Client()
data = open(sys.argv[1], "rb").read()
name = os.path.basename(sys.argv[1])
upload = SimpleUploadedFile(name, data, content_type="application/octet-stream")
def status_kb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
# Reset this process's peak RSS to now (Linux), so the peak after is the request's.
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = status_kb("VmRSS")
tracemalloc.start()
t0 = time.perf_counter()
resp = client.post("/api/v1/reports/photo-hint", {"photo": upload})
elapsed = time.perf_counter() - t0
_cur, py_peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
after = status_kb("VmHWM")
body = resp.content.decode("utf-8", "replace")[:300]
print(json.dumps({"status": resp.status_code, "rss_kb": after - before, "py_peak": py_peak,
                  "seconds": elapsed, "body": body}))
"""


def make_cases(tmp):
    from PIL import Image

    def gradient(w, h, mode="RGB"):
        # Smooth content (a few MB as a file, like a photo of a wall), full pixel count.
        base = Image.linear_gradient("L").resize((w, h))
        noise = Image.effect_noise((w // 8, h // 8), 40).resize((w, h))
        if mode == "L":
            return Image.blend(base, noise, 0.3)
        return Image.merge("RGB", (base, noise, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))

    cases = []

    def save(label, img, fmt, name, **kw):
        path = Path(tmp) / name
        out = io.BytesIO()
        img.save(out, fmt, **kw)
        path.write_bytes(out.getvalue())
        cases.append((label, path))

    # The case: 143 KB of PNG that decodes to 49 MP (~480 MB before).
    save("PNG 7000×7000 (49 MP)", Image.new("RGB", (7000, 7000), (120, 160, 200)), "PNG", "big.png", optimize=True)
    save("JPEG 4000×3000 (12 MP)", gradient(4000, 3000), "JPEG", "12mp.jpg", quality=80)
    save("JPEG 7300×5470 (39.9 MP)", gradient(7300, 5470), "JPEG", "40mp.jpg", quality=70)
    flat = Image.linear_gradient("L").resize((5600, 5600))
    save("PNG 5600×5600 RGB (31 MP)", Image.merge("RGB", (flat, flat, flat)), "PNG", "31mp.png", compress_level=9)
    smooth = Image.linear_gradient("L").resize((6000, 6000))
    rgba = Image.merge("RGBA", (smooth, smooth.transpose(Image.Transpose.ROTATE_90), smooth, smooth))
    save("PNG 6000×6000 RGBA (36 MP)", rgba, "PNG", "36mp.png", compress_level=9)
    # Resized in one pass (longest side under twice 2560): alpha premultiplied at full
    # size and the resampling's half-way image (25 MP with alpha cost ~280 MB before).
    def smooth_rgba(w, h):
        s = Image.linear_gradient("L").resize((w, h))
        return Image.merge("RGBA", (s, s.transpose(Image.Transpose.FLIP_LEFT_RIGHT), s, s))

    save("PNG 5000×5000 RGBA (25 MP)", smooth_rgba(5000, 5000), "PNG", "25mp-rgba.png", compress_level=9)
    save("PNG 3400×3400 RGBA (11.6 MP)", smooth_rgba(3400, 3400), "PNG", "12mp-rgba.png", compress_level=9)
    save("PNG 5119×5119 RGB (26 MP)", smooth_rgba(5119, 5119).convert("RGB"), "PNG", "26mp.png", compress_level=9)
    # WebP and HEIC decoders hold extra full-size copies (reports.media.DECODER_COPIES).
    save("WebP 4000×4000 (16 MP)", gradient(4000, 4000), "WEBP", "16mp.webp", quality=80)
    save("WebP 3000×2600 (7.8 MP)", gradient(3000, 2600), "WEBP", "8mp.webp", quality=80)
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        save("HEIC 6000×5000 (30 MP)", gradient(6000, 5000), "HEIF", "30mp.heic", quality=50)
        save("HEIC 4000×3000 (12 MP)", gradient(4000, 3000), "HEIF", "12mp.heic", quality=50)
    except (ImportError, OSError, KeyError):  # no HEIF encoder here
        pass
    return cases


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(HERE), help="the checkout to measure (default: this one)")
    args = parser.parse_args()
    env = {**os.environ, "BENCH_ROOT": args.root, "RATELIMIT_ENABLE": "0"}
    with tempfile.TemporaryDirectory() as tmp:
        cases = make_cases(tmp)
        print(f"checkout: {args.root}")
        print(f"{'case':30} {'file':>9} {'status':>6} {'rss+':>9} {'py-peak':>9} {'time':>7}")
        worst = 0
        for label, path in cases:
            run = subprocess.run([sys.executable, "-c", CHILD, str(path)], env=env, capture_output=True, text=True,
                                 cwd=args.root, timeout=600)
            if run.returncode != 0:
                print(f"{label:30} failed: {run.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(run.stdout.strip().splitlines()[-1])
            worst = max(worst, r["rss_kb"])
            size = path.stat().st_size
            print(f"{label:30} {size / 1024:7.0f}KB {r['status']:>6} {r['rss_kb'] / 1024:7.1f}MB "
                  f"{r['py_peak'] / 2**20:7.1f}MB {r['seconds']:6.2f}s")
            if r["status"] != 200:
                print(f"{'':30} → {r['body'][:160]}")
        print(f"worst rss+ per request: {worst / 1024:.1f} MB (target ≤ 200 MB)")


if __name__ == "__main__":
    main()
