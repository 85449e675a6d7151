"""Blurring faces and plates on upload: time per 12 MP photo, recall and precision.

    DEBUG=1 .venv/bin/python bench/blur.py [--scenes 24] [--runs 10]

1. Time: reports.media.check_photo on a 4000×3000 JPEG (12 MP, ~3 MB) with blurring
   (detect + blur: the upload path) and without (the same call with blur=False: the
   baseline in the same run), p50/p95 over --runs runs, and their ratio.
2. Quality: on the labelled set of bench/blur_set.py (fixtures/blur/PROVENANCE.md;
   the plates are synthetic), at the public size (longest side 2560, as on upload):
   recall and precision (a detection matches a labelled box at IoU ≥ 0.3) for faces and
   plates separately, for our detector and, in the same run, for a trivial baseline
   (OpenCV's Haar frontal-face cascade for faces; the Haar plate cascade alone, without
   the Vietnamese shape rule, for plates; "blur nothing" has recall 0).
Also: does our detector find a face on the blurred public copy (it should not)?
"""

import argparse
import io
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geo_portal.settings")

import django  # noqa: E402

django.setup()

from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402

from bench import blur_set  # noqa: E402
from reports import blur, media  # noqa: E402

IOU = 0.3


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def match(truth, found):
    """(true positives among found, matched truths): greedy, best IoU first."""
    pairs = sorted(((iou(t, f), ti, fi) for ti, t in enumerate(truth) for fi, f in enumerate(found)), reverse=True)
    used_t, used_f = set(), set()
    for score, ti, fi in pairs:
        if score < IOU:
            break
        if ti in used_t or fi in used_f:
            continue
        used_t.add(ti)
        used_f.add(fi)
    return len(used_f), len(used_t)


def boxes(regions, w, h):
    return [(r["x"] * w, r["y"] * h, (r["x"] + r["w"]) * w, (r["y"] + r["h"]) * h) for r in regions]


def haar(img, cascade, min_size):
    import cv2
    import numpy as np

    small = blur._scaled(img, blur.DETECT_SIDE)
    gray = cv2.cvtColor(np.asarray(small), cv2.COLOR_RGB2GRAY)
    k = img.width / small.width
    return [(x * k, y * k, (x + w) * k, (y + h) * k)
            for x, y, w, h in blur._cascade(cascade).detectMultiScale(gray, 1.1, 4, minSize=min_size)]


class Score:
    def __init__(self):
        self.tp = self.found = self.truth = self.hit = 0

    def add(self, truth, found):
        tp, hit = match(truth, found)
        self.tp += tp
        self.hit += hit
        self.found += len(found)
        self.truth += len(truth)

    def __str__(self):
        r = self.hit / self.truth if self.truth else float("nan")
        p = self.tp / self.found if self.found else float("nan")
        return f"recall {r:.2f} ({self.hit}/{self.truth})  precision {p:.2f} ({self.tp}/{self.found})"


def jpeg(img, quality=90):
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenes", type=int, default=24)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    blur.fetch_model()
    print(f"detector {blur.DETECTOR_VERSION}, faces at longest side {blur.DETECT_SIDE}, threshold "
          f"{blur.FACE_THRESHOLD}, pad {blur.PAD:.0%}; load average {os.getloadavg()[0]:.2f} "
          f"(cores {os.cpu_count()})")
    scenes = blur_set.build(args.scenes)

    # 1. time per 12 MP photo
    data = jpeg(scenes[1]["image"])
    blur.session()  # loaded once per process, as in a worker
    media.check_photo(SimpleUploadedFile("w.jpg", data, content_type="image/jpeg"))
    with_blur, without, cpu_blur, cpu_without = [], [], [], []
    for _ in range(args.runs):
        for flag, out, cpu in ((True, with_blur, cpu_blur), (False, without, cpu_without)):
            t, c = time.perf_counter(), time.process_time()
            media.check_photo(SimpleUploadedFile("p.jpg", data, content_type="image/jpeg"), blur=flag)
            out.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
    print(f"\n12 MP photo ({blur_set.SIZE[0]}×{blur_set.SIZE[1]} JPEG, {len(data) / 1e6:.1f} MB), {args.runs} runs, "
          f"check_photo → public copy {media.PUBLIC_MAX_SIDE} px + thumbnail:")
    p50b, p95b = pct(with_blur, 50), pct(with_blur, 95)
    p50n, p95n = pct(without, 50), pct(without, 95)
    print(f"  with blur (detect + blur)   p50 {p50b:7.0f} ms  p95 {p95b:7.0f} ms")
    print(f"  without (baseline)          p50 {p50n:7.0f} ms  p95 {p95n:7.0f} ms")
    print(f"  ratio                       p50 {p50b / p50n:7.2f}×   p95 {p95b / p95n:7.2f}×   "
          f"(blur adds {p50b - p50n:.0f} ms at p50)")
    print(f"  CPU time (all threads, less sensitive to other load): with blur p50 {pct(cpu_blur, 50):.0f} ms, "
          f"without p50 {pct(cpu_without, 50):.0f} ms, ratio {pct(cpu_blur, 50) / pct(cpu_without, 50):.2f}×")

    # 2. recall / precision at the public size
    ours_f, ours_p, haar_f, haar_p, none = Score(), Score(), Score(), Score(), Score()
    refound, faces_in_set = 0, 0
    detect_ms = []
    for sc in scenes:
        img = sc["image"].copy()
        img.thumbnail((media.PUBLIC_MAX_SIDE, media.PUBLIC_MAX_SIDE))
        k = img.width / sc["image"].width
        faces = [tuple(v * k for v in b) for b in sc["faces"]]
        plates = [tuple(v * k for v in b) for b in sc["plates"]]
        t = time.perf_counter()
        f = blur.detect_faces(img)
        t_faces = time.perf_counter()
        p = blur.detect_plates(img)
        detect_ms.append(((t_faces - t) * 1000, (time.perf_counter() - t_faces) * 1000))
        ours_f.add(faces, boxes(f, img.width, img.height))
        ours_p.add(plates, boxes(p, img.width, img.height))
        haar_f.add(faces, haar(img, "haarcascade_frontalface_default.xml", (12, 12)))
        haar_p.add(plates, haar(img, "haarcascade_russian_plate_number.xml", (36, 12)))
        none.add(faces, [])
        public = blur.apply(img, f + p)
        faces_in_set += len(faces)
        refound += match(faces, boxes(blur.detect_faces(public), img.width, img.height))[1]
    n_faces = sum(len(s["faces"]) for s in scenes)
    n_plates = sum(len(s["plates"]) for s in scenes)
    print(f"\nlabelled set: {len(scenes)} scenes of 12 MP, {n_faces} faces (60–500 px tall), {n_plates} synthetic "
          f"plates; scored at {media.PUBLIC_MAX_SIDE} px, IoU ≥ {IOU}; per scene p50: faces "
          f"{pct([d[0] for d in detect_ms], 50):.0f} ms, plates {pct([d[1] for d in detect_ms], 50):.0f} ms")
    print(f"  faces   ours (CenterFace)          {ours_f}")
    print(f"  faces   baseline (Haar frontal)    {haar_f}")
    print(f"  faces   baseline (blur nothing)    {none}")
    print(f"  plates  ours (Haar + VN shapes)    {ours_p}")
    print(f"  plates  baseline (Haar plate only) {haar_p}")
    print(f"  faces found again by CenterFace on the blurred copies: {refound} of {faces_in_set}")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
