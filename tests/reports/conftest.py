"""Fixtures of the reports tests: the seeded staff (fixtures/staff.py), points inside
real communes of the loaded boundaries, uploads made on the fly, isolated media and
SMS outbox directories, rate limiting off unless a test turns it on."""

import datetime as dt
import io
import threading
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections
from PIL import Image

BAI_CHAY = "06673"  # Phường Bãi Cháy, Quảng Ninh (officer +84900000002)
HONG_GAI = "06685"  # Phường Hồng Gai, Quảng Ninh (officer +84900000003)


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SMS_OUTBOX_DIR = tmp_path / "sms"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SMS_BACKEND = "geo_portal.accounts.sms.ConsoleSmsBackend"
    settings.RATELIMIT_ENABLE = False
    settings.NOTIFY_DISPATCH = "sync"


class Clock:
    """What ``timezone.now()`` answers while reports are walked through intake and the
    workflow at set moments; ``set(None)`` gives the real time back (the database's
    ``now()`` is never moved)."""

    def __init__(self, monkeypatch):
        from django.utils import timezone

        self.moment = None
        real = timezone.now
        monkeypatch.setattr(timezone, "now", lambda: real() if self.moment is None else self.moment.astimezone(dt.UTC))

    def set(self, moment):
        self.moment = moment


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


def user(phone):
    return get_user_model().objects.get(username=phone)


@pytest.fixture
def operator(db):
    return user("+84900000001")


@pytest.fixture
def officer(db):
    """Officer of UBND Phường Bãi Cháy."""
    return user("+84900000002")


@pytest.fixture
def other_officer(db):
    """Officer of UBND Phường Hồng Gai: another commune."""
    return user("+84900000003")


@pytest.fixture
def leader(db):
    return user("+84900000004")


@pytest.fixture
def head(db):
    return user("+84900000006")


@pytest.fixture
def citizen(db):
    return user("+84910000001")


def point_in(commune_code):
    """(lon, lat) of a point surely inside the 2025 commune."""
    with connection.cursor() as cur:
        cur.execute(
            """SELECT ST_X(p), ST_Y(p) FROM (
                 SELECT ST_PointOnSurface(a.geom) p FROM boundaries_area a
                 JOIN boundaries_areatype t ON t.id = a.type_id
                 JOIN boundaries_boundaryversion v ON v.id = a.version_id
                 WHERE v.code = 'vn-2025' AND t.code = 'commune' AND a.code = %s) s""",
            [commune_code],
        )
        row = cur.fetchone()
    assert row, f"commune {commune_code} is not loaded"
    return row


def report_data(commune=BAI_CHAY, category="do-thi-chieu-sang", **extra):
    lon, lat = point_in(commune)
    data = {
        "category": category,
        "lat": str(lat),
        "lon": str(lon),
        "description": "Đèn đường trước số 12 bị hỏng hai tuần nay, buổi tối rất tối.",
        "contact_name": "Nguyễn Văn A",
        "contact_phone": "0912345678",
    }
    data.update(extra)
    return data


def jpeg_bytes(size=(64, 48), color=(200, 30, 30), gps=None, fmt="JPEG"):
    img = Image.new("RGB", size, color)
    out = io.BytesIO()
    kwargs = {}
    if gps is not None:
        lat, lon = gps
        exif = Image.Exif()

        from PIL.TiffImagePlugin import IFDRational

        def dms(value):
            value = abs(value)
            d = int(value)
            m = int((value - d) * 60)
            s = round(((value - d) * 60 - m) * 60 * 100)
            return (IFDRational(d, 1), IFDRational(m, 1), IFDRational(s, 100))

        exif[0x8825] = {1: "N" if lat >= 0 else "S", 2: dms(lat), 3: "E" if lon >= 0 else "W", 4: dms(lon)}
        exif[0x010F] = "PhoneMaker"
        kwargs["exif"] = exif
    img.save(out, fmt, **kwargs)
    return out.getvalue()


def photo(name="anh.jpg", **kwargs):
    return SimpleUploadedFile(name, jpeg_bytes(**kwargs), content_type="image/jpeg")


def mp4_bytes(seconds=1, fps=10, size=(64, 48), metadata=None):
    import av
    import numpy as np

    out = io.BytesIO()
    container = av.open(out, mode="w", format="mp4")
    if metadata:
        container.metadata.update(metadata)
    stream = container.add_stream("mpeg4", rate=fps)
    stream.width, stream.height = size
    stream.pix_fmt = "yuv420p"
    for i in range(int(seconds * fps)):
        arr = np.full((size[1], size[0], 3), (i * 7) % 255, dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return out.getvalue()


def new_key():
    return f"test-{uuid.uuid4()}"


def run_in_threads(*fns):
    """Run each function in its own thread with its own database connection (outside
    the test's transaction: what they write is committed). Returns results/exceptions."""
    results = [None] * len(fns)
    barrier = threading.Barrier(len(fns))

    def wrap(i, fn):
        try:
            barrier.wait(timeout=10)
            results[i] = fn()
        except BaseException as exc:  # noqa: B036 - reported to the test
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=wrap, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def in_thread(fn):
    return run_in_threads(fn)[0]
