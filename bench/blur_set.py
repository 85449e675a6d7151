"""The labelled set of bench/blur.py, built at bench time from fixtures/blur/ (see
fixtures/blur/PROVENANCE.md: every source image is public domain or CC0, with its
face boxes labelled by hand there).

Scenes: a 4000×3000 (12 MP) photo made of a background from the set, 0–2 of the
portraits pasted at a face height of 60–500 px, and 0–2 SYNTHETIC Vietnamese-style
licence plates (1-row 520×110 mm "29A-123.45" and 2-row 330×165 mm "14-B2 / 567.89"
layouts, white, yellow or blue backgrounds, drawn with DejaVu Sans Condensed Bold from
Debian's fonts-dejavu-core), tilted ±8°, sometimes blurred. The boxes of faces and
plates follow from how each scene is built (the hand labels moved and scaled), never
from a detector. Seeded: the same set on every run.
"""

import json
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

HERE = Path(__file__).resolve().parent.parent / "fixtures" / "blur"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf"
SIZE = (4000, 3000)


def labels():
    return json.loads((HERE / "labels.json").read_text())


def source(name):
    return Image.open(HERE / name).convert("RGB")


def plate_text(rng, two_rows):
    letters = "ABCDEFGHKLMNPSTUVXYZ"
    province = f"{rng.randint(11, 99)}"
    serial = f"{rng.randint(0, 999):03d}.{rng.randint(0, 99):02d}"
    if two_rows:
        return [f"{province}-{rng.choice(letters)}{rng.randint(1, 9)}", serial]
    return [f"{province}{rng.choice(letters)}-{serial}"]


def render_plate(lines, colour="white", scale=1.0):
    """A plate at 1 px per mm × scale: 520×110 (one row) or 330×165 (two rows)."""
    two_rows = len(lines) == 2
    w, h = (330, 165) if two_rows else (520, 110)
    w, h = int(w * scale), int(h * scale)
    bg, fg = {"white": ((240, 240, 236), (15, 15, 15)), "yellow": ((238, 196, 40), (15, 15, 15)),
              "blue": ((20, 60, 150), (245, 245, 245))}[colour]
    img = Image.new("RGB", (w, h), bg)
    d = ImageDraw.Draw(img)
    border = max(2, int(5 * scale))
    d.rectangle([border, border, w - border - 1, h - border - 1], outline=fg, width=border)
    rows = len(lines)
    font = ImageFont.truetype(FONT, int(h / rows * 0.72))
    for i, text in enumerate(lines):
        box = d.textbbox((0, 0), text, font=font)
        tw, th = box[2] - box[0], box[3] - box[1]
        cy = h * (i + 0.5) / rows
        d.text(((w - tw) / 2 - box[0], cy - th / 2 - box[1]), text, font=font, fill=fg)
    return img


def _paste_rotated(canvas, img, x, y, angle):
    """Paste ``img`` rotated by ``angle`` with its top-left corner near (x, y); returns
    the pasted pixels' bounding box."""
    rgba = img.convert("RGBA").rotate(angle, expand=True, resample=Image.BICUBIC)
    canvas.paste(rgba, (x, y), rgba)
    bbox = rgba.getchannel("A").getbbox()
    return (x + bbox[0], y + bbox[1], x + bbox[2], y + bbox[3])


def _overlaps(box, boxes, margin=40):
    return any(not (box[2] + margin < b[0] or b[2] + margin < box[0] or box[3] + margin < b[1]
                    or b[3] + margin < box[1]) for b in boxes)


def scene(rng, index):
    lab = labels()
    backgrounds = [n for n, v in lab.items() if not v.get("faces")]
    portraits = [n for n, v in lab.items() if v.get("faces")]
    bg = source(rng.choice(backgrounds)).resize(SIZE, Image.BICUBIC)
    faces, plates, used = [], [], []
    for _ in range(rng.choice([0, 1, 1, 2])):
        name = rng.choice(portraits)
        img = source(name)
        fx0, fy0, fx1, fy1 = rng.choice(lab[name]["faces"])
        face_h = rng.choice([60, 90, 120, 180, 250, 350, 500])
        s = face_h / (fy1 - fy0)
        img = img.resize((max(1, int(img.width * s)), max(1, int(img.height * s))), Image.BICUBIC)
        for _try in range(20):
            x = rng.randint(0, max(0, SIZE[0] - img.width))
            y = rng.randint(0, max(0, SIZE[1] - img.height))
            box = (x, y, x + img.width, y + img.height)
            if not _overlaps(box, used):
                break
        else:
            continue
        bg.paste(img, (x, y))
        used.append(box)
        faces.append((x + fx0 * s, y + fy0 * s, x + fx1 * s, y + fy1 * s))
    for _ in range(rng.choice([0, 1, 1, 2])):
        two = rng.random() < 0.4
        colour = rng.choice(["white", "white", "yellow", "blue"])
        width = rng.choice([160, 220, 300, 420, 600])
        plate = render_plate(plate_text(rng, two), colour, scale=width / (330 if two else 520))
        if rng.random() < 0.4:
            plate = plate.filter(ImageFilter.GaussianBlur(rng.choice([0.8, 1.5])))
        for _try in range(20):
            x = rng.randint(0, SIZE[0] - plate.width - 60)
            y = rng.randint(0, SIZE[1] - plate.height - 60)
            if not _overlaps((x, y, x + plate.width + 60, y + plate.height + 60), used):
                break
        else:
            continue
        box = _paste_rotated(bg, plate, x, y, rng.uniform(-8, 8))
        used.append(box)
        plates.append(box)
    return {"name": f"scene-{index:02d}", "image": bg, "faces": faces, "plates": plates}


def build(n=24, seed=20261205):
    rng = random.Random(seed)
    return [scene(rng, i) for i in range(n)]
