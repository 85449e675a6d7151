"""Photos prepared on the phone (reports/static/reports/photo-prep.js) in real Chromium:
a 12 MP phone photo is downsized to a 2048 px JPEG before it is sent, its GPS becomes a
suggested pin the citizen confirms or moves, a portrait photo stays upright, small photos
and videos are sent as they are; the phone's location is asked for with the button.

The photos are made here with Pillow (EXIF GPS and orientation through Pillow's Exif API)
and what the page holds is read back from the file input and decoded in Python."""

import base64
import io
import math
import re

import numpy as np
import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational
from playwright.sync_api import expect

from reports.models import Media, Report
from tests.reports.conftest import HONG_GAI, mp4_bytes, point_in

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("isolated_site")]

RED, BLUE = (220, 20, 20), (20, 40, 220)
# Where the test photo was taken: in Phường Bãi Cháy, Hạ Long (checked by the routing
# preview the page shows once the pin is placed).
HA_LONG = (20.9531234, 107.0412345)


def _gps_exif(lat, lon):
    def dms(value):
        value = abs(value)
        d = int(value)
        m = int((value - d) * 60)
        s = round(((value - d) * 60 - m) * 60 * 10000)
        return (IFDRational(d, 1), IFDRational(m, 1), IFDRational(s, 10000))

    return {1: "N" if lat >= 0 else "S", 2: dms(lat), 3: "E" if lon >= 0 else "W", 4: dms(lon)}


def phone_photo(path, size=(4000, 3000), gps=None, orientation=None, quality=88, noise=22, fmt="JPEG",
                halves=None):
    """A photo like a phone's: a gradient with sensor-like noise (so it weighs what a real
    12 MP photo does, ~4 MB), optionally EXIF GPS and orientation. `halves` paints the top
    half and the bottom half of the stored pixels in two colours."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (w + h)], -1).astype(np.int16)
    if halves:
        base[:, : w // 2] = halves[0]
        base[:, w // 2:] = halves[1]
    rng = np.random.default_rng(7)
    if noise:
        base += rng.integers(-noise, noise + 1, (h // 2 + 1, w // 2 + 1, 3), dtype=np.int16).repeat(2, 0).repeat(
            2, 1)[:h, :w]
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    if gps:
        exif[0x8825] = _gps_exif(*gps)
    if orientation:
        exif[0x0112] = orientation
    kwargs = {"exif": exif} if fmt == "JPEG" else {}
    if fmt == "JPEG":
        kwargs["quality"] = quality
    img.save(path, fmt, **kwargs)
    return str(path)


READ_FILES = """async (id) => {
  const out = [];
  for (const f of document.getElementById(id).files) {
    const b = new Uint8Array(await f.arrayBuffer());
    let s = "";
    for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode.apply(null, b.subarray(i, i + 0x8000));
    out.push({ name: f.name, type: f.type, size: f.size, b64: btoa(s) });
  }
  return out;
}"""


def held_files(page, input_id="photos"):
    return [dict(f, data=base64.b64decode(f.pop("b64"))) for f in page.evaluate(READ_FILES, input_id)]


def exif_point(img):
    """(lat, lon) from a decoded image's EXIF GPS IFD, read with Pillow alone."""
    gps = img.getexif().get_ifd(0x8825)
    if not gps:
        return None

    def deg(v):
        return float(v[0]) + float(v[1]) / 60 + float(v[2]) / 3600

    lat, lon = deg(gps[2]), deg(gps[4])
    return (-lat if gps[1] == "S" else lat), (-lon if gps[3] == "W" else lon)


def metres(a, b):
    """Distance between two (lat, lon) points, equirectangular (fine at a few km)."""
    k = 111_320
    return math.hypot((a[0] - b[0]) * k, (a[1] - b[1]) * k * math.cos(math.radians(a[0])))


def open_intake(browser, live_url, **context_kwargs):
    ctx = browser.new_context(locale="vi-VN", viewport={"width": 390, "height": 844}, **context_kwargs)
    page = ctx.new_page()
    page.set_default_timeout(60000)  # a 12 MP photo decoded on a loaded 2-core machine
    page.goto(f"{live_url}/phan-anh/moi/")
    page.wait_for_selector("#map[data-communes]", state="attached")
    page.evaluate("""() => { window.preparedEvents = [];
        document.getElementById('photos').addEventListener('photos-prepared', e => window.preparedEvents.push(
          { n: e.detail.files.length, gps: e.detail.gps, originalBytes: e.detail.originalBytes,
            preparedBytes: e.detail.preparedBytes })); }""")
    return page


def choose(page, selector, paths, events_before=None):
    n = page.evaluate("window.preparedEvents.length") if events_before is None else events_before
    page.set_input_files(selector, paths)
    page.wait_for_function("n => window.preparedEvents.length > n", arg=n)
    return page.evaluate("window.preparedEvents[window.preparedEvents.length - 1]")


def suggested_pin_latlng(page):
    """Where the suggested pin's tip is drawn on the map (the bottom centre of its icon)."""
    return page.evaluate("""() => { const r = document.querySelector('.suggested-pin').getBoundingClientRect();
        const m = document.getElementById('map').getBoundingClientRect();
        const ll = window.intakeMap.containerPointToLatLng([r.left + r.width / 2 - m.left, r.bottom - m.top]);
        return [ll.lat, ll.lng]; }""")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """The photos of these tests, made once (a 12 MP photo takes seconds to encode)."""
    d = tmp_path_factory.mktemp("photos")
    return {
        "landscape": phone_photo(d / "IMG_0001.jpg", gps=HA_LONG),
        # Stored 4000×3000 on its side, EXIF orientation 6 (turn 90° clockwise to view):
        # the stored left half (red) is on top once upright (3000×4000), the right (blue)
        # below; turned the wrong way, blue would be on top.
        "portrait": phone_photo(d / "IMG_0002.jpg", orientation=6, halves=(RED, BLUE), noise=6),
        "small_jpeg": phone_photo(d / "small.jpg", size=(640, 480), quality=80),
        "small_png": phone_photo(d / "small.png", size=(400, 300), fmt="PNG", noise=0),
        "big_png": phone_photo(d / "screenshot.png", size=(3000, 2000), fmt="PNG", noise=0),
    }


def test_a_12_mp_photo_is_sent_as_a_2048_px_jpeg_with_its_place_as_suggested_pin(db, live_url, browser, photos):
    lat, lon = HA_LONG
    path = photos["landscape"]
    original = open(path, "rb").read()
    assert 3_000_000 < len(original) < 6_000_000  # what a phone's 12 MP photo weighs
    page = open_intake(browser, live_url)
    # The flow starts with the camera: the first input of the form opens the back camera.
    first = page.locator("#intake-form input[type=file]").first
    assert first.get_attribute("id") == "photos"
    assert first.get_attribute("capture") == "environment" and first.get_attribute("accept") == "image/*"

    event = choose(page, "#photos", path)
    [held] = held_files(page)
    assert held["type"] == "image/jpeg" and held["name"] == "IMG_0001.jpg"
    img = Image.open(io.BytesIO(held["data"]))
    assert img.format == "JPEG" and img.size == (2048, 1536)
    assert len(held["data"]) < len(original) / 3
    assert event["originalBytes"] == len(original) and event["preparedBytes"] == len(held["data"])
    # The position (and nothing else of the camera's metadata) is kept for the server's hint.
    assert metres(exif_point(img), (lat, lon)) < 1
    assert 0x010F not in img.getexif()
    # The note says what was saved: "… 4,1 MB → 6xx KB".
    expect(page.locator("#photo-prep-note")).to_have_text(re.compile(r"\d(,\d)? MB → \d+ KB"))

    # The photo's place is suggested on the map; the citizen confirms it.
    expect(page.locator("#pin-suggestion")).to_be_visible()
    expect(page.locator("#pin-suggestion")).to_contain_text("Dùng vị trí này?")
    assert metres(suggested_pin_latlng(page), (lat, lon)) < 8  # a pixel is ~2 m at zoom 16
    assert page.input_value("#lat") == ""  # nothing is placed before the citizen says so
    page.click("#use-suggested")
    assert metres((float(page.input_value("#lat")), float(page.input_value("#lon"))), (lat, lon)) < 1
    expect(page.locator("#pin-suggestion")).to_be_hidden()
    expect(page.locator("#routing-commune")).to_contain_text("Bãi Cháy")

    page.click("label.cat-tile:has(input[value=moi-truong-rac-thai])")
    page.fill("#description", "Rác tồn đọng, ảnh chụp bằng điện thoại")
    page.click("#submit-btn")
    page.wait_for_url(re.compile(r"/da-gui/\?t=[\w-]+$"))
    report = Report.objects.get(code=page.locator("#report-code").inner_text().strip())
    [media] = Media.objects.filter(report=report, kind="photo")
    stored = Image.open(media.file.path)
    assert stored.size == (2048, 1536)  # the server kept every pixel that was sent
    assert media.exif_location is not None
    assert metres((media.exif_location.y, media.exif_location.x), (lat, lon)) < 1
    page.context.close()


def test_the_citizen_moves_the_suggested_pin_before_confirming(db, live_url, browser, photos):
    page = open_intake(browser, live_url)
    choose(page, "#photos", photos["landscape"])
    tip = suggested_pin_latlng(page)
    assert metres(tip, HA_LONG) < 8
    page.locator(".suggested-pin").scroll_into_view_if_needed()
    box = page.locator(".suggested-pin").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 40, y + 30, steps=8)
    page.mouse.up()
    moved = suggested_pin_latlng(page)
    assert 60 < metres(moved, tip) < 200  # 50 px at zoom 16
    page.click("#use-suggested")
    pin = (float(page.input_value("#lat")), float(page.input_value("#lon")))
    assert metres(pin, moved) < 8  # the tip read from the icon's box: ± 2 px
    page.context.close()


def test_a_portrait_photo_stays_upright(db, live_url, browser, photos):
    page = open_intake(browser, live_url)
    event = choose(page, "#photos", photos["portrait"])
    [held] = held_files(page)
    img = Image.open(io.BytesIO(held["data"])).convert("RGB")
    assert img.size == (1536, 2048)
    assert img.getexif().get(0x0112, 1) == 1  # turned in the pixels: no orientation left to apply
    top, bottom = img.getpixel((768, 200)), img.getpixel((768, 1850))
    assert all(abs(a - b) < 40 for a, b in zip(top, RED, strict=True)), top
    assert all(abs(a - b) < 40 for a, b in zip(bottom, BLUE, strict=True)), bottom
    assert event["gps"] is None
    expect(page.locator("#pin-suggestion")).to_be_hidden()  # no GPS, no suggestion
    page.context.close()


@pytest.mark.parametrize(("name", "kept", "size", "fmt"), [
    ("small_jpeg", True, (640, 480), "JPEG"),    # already light: sent as it is
    ("small_png", True, (400, 300), "PNG"),      # a small PNG too (the server takes PNG)
    ("big_png", False, (2048, 1365), "JPEG"),    # a 3000×2000 screenshot: downsized to JPEG
])
def test_small_photos_are_sent_as_they_are(db, live_url, browser, photos, name, kept, size, fmt):
    page = open_intake(browser, live_url)
    original = open(photos[name], "rb").read()
    choose(page, "#photos", photos[name])
    [held] = held_files(page)
    assert (held["data"] == original) is kept
    img = Image.open(io.BytesIO(held["data"]))
    assert img.size == size and img.format == fmt
    page.context.close()


def test_videos_are_untouched_and_choices_add_up(db, live_url, browser, photos, tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(mp4_bytes(seconds=1))
    page = open_intake(browser, live_url)
    page.set_input_files("#video", str(video))
    assert held_files(page, "video")[0]["data"] == video.read_bytes()
    # A video that ends up among the photos is left for the server to judge, byte for byte.
    choose(page, "#photos", str(video))
    assert [f["data"] for f in held_files(page)] == [video.read_bytes()]
    page.click("#photos-clear")
    assert held_files(page) == []
    # A camera shot, then one from the gallery: both are sent, both prepared.
    choose(page, "#photos", photos["landscape"])
    choose(page, "#photos-gallery", photos["small_jpeg"])
    held = held_files(page)
    assert [Image.open(io.BytesIO(f["data"])).size for f in held] == [(2048, 1536), (640, 480)]
    assert held_files(page, "photos-gallery") == []  # the gallery input only feeds #photos
    # A saved draft's photos put back (offline-intake.js): the next shot adds to them.
    page.evaluate("() => window.photoPrep.restore([document.getElementById('photos').files[1]])")
    choose(page, "#photos", photos["small_png"])
    assert [Image.open(io.BytesIO(f["data"])).size for f in held_files(page)] == [(640, 480), (400, 300)]
    page.context.close()


@pytest.mark.parametrize(("device_offset_m", "accuracy_m", "suggested"), [
    (None, 25, "device"),       # no photo with GPS: the phone's location is suggested
    (40, 25, "photo"),          # the phone is where the photo was taken: the photo's fix is kept
    (2000, 25, "device"),       # the citizen moved (or the photo is old): what they just asked for
])
def test_phone_location_on_request_against_photo_gps(db, live_url, browser, photos, device_offset_m,
                                                     accuracy_m, suggested):
    photo_at = HA_LONG
    device_at = (photo_at[0] + (device_offset_m or 300) / 111_320, photo_at[1])
    page = open_intake(browser, live_url, permissions=["geolocation"],
                       geolocation={"latitude": device_at[0], "longitude": device_at[1], "accuracy": accuracy_m})
    expect(page.locator("#pin-suggestion")).to_be_hidden()  # never asked for silently
    if device_offset_m is not None:
        choose(page, "#photos", photos["landscape"])
    page.click("#use-location")
    expect(page.locator("#pin-suggestion")).to_be_visible()
    text = "Vị trí của điện thoại" if suggested == "device" else "Nơi chụp ảnh"
    expect(page.locator("#pin-suggestion-text")).to_contain_text(text)
    page.click("#use-suggested")
    pin = (float(page.input_value("#lat")), float(page.input_value("#lon")))
    assert metres(pin, device_at if suggested == "device" else photo_at) < 1
    page.context.close()


def test_a_report_photo_taken_elsewhere_is_still_suggested_where_it_was_taken(db, live_url, browser, tmp_path):
    """The map follows the photo into another commune of the province."""
    lon, lat = point_in(HONG_GAI)
    path = phone_photo(tmp_path / "hong_gai.jpg", size=(1200, 900), gps=(lat, lon), quality=95, noise=30)
    page = open_intake(browser, live_url)
    choose(page, "#photos", path)
    page.click("#use-suggested")
    expect(page.locator("#routing-commune")).to_contain_text("Hồng Gai")
