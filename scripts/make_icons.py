"""Draws the installable app's icons (a white map pin on the header's blue), committed
in reports/static/reports/icons/. Run again only to change them:
``.venv/bin/python scripts/make_icons.py``. Maskable: the pin stays inside the centre
80 % circle that launchers keep."""

from pathlib import Path

from PIL import Image, ImageDraw

BLUE = (11, 61, 110)
OUT = Path(__file__).resolve().parent.parent / "reports" / "static" / "reports" / "icons"


def icon(size, scale=1.0):
    # Drawn 4× larger and scaled down: smooth edges without an anti-aliasing library.
    big = size * 4
    img = Image.new("RGB", (big, big), BLUE)
    d = ImageDraw.Draw(img)
    c, r = big / 2, big * 0.2 * scale
    cy = big * 0.42
    d.ellipse((c - r, cy - r, c + r, cy + r), fill="white")
    d.polygon([(c - r * 0.87, cy + r * 0.5), (c + r * 0.87, cy + r * 0.5), (c, cy + r * 2.1)], fill="white")
    hole = r * 0.42
    d.ellipse((c - hole, cy - hole, c + hole, cy + hole), fill=BLUE)
    return img.resize((size, size), Image.LANCZOS)


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    icon(192).save(OUT / "icon-192.png", optimize=True)
    icon(512).save(OUT / "icon-512.png", optimize=True)
    icon(512, scale=0.8).save(OUT / "icon-maskable-512.png", optimize=True)
    icon(180).save(OUT / "apple-touch-icon.png", optimize=True)
