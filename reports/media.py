"""Uploaded photos and videos: checked by their content, never by their name.

Photos: JPEG, PNG, WebP or HEIC/HEIF (phones), at most REPORT_PHOTO_MAX_BYTES (10 MB)
each and REPORT_PHOTO_MAX_COUNT (5) per report, at most REPORT_IMAGE_MAX_PIXELS
(40 MP: checked from the header before decoding; a 400 on "photos" above it), decoded
reduced (JPEG at 1/2..1/8 scale by the decoder; others reduced right after decoding):
bench/upload_memory.py measures the peak memory per photo. The public copy
is re-encoded as JPEG (orientation applied, longest side ≤ 2560 px) and so carries no
EXIF at all; GPS found in the original's EXIF is kept as a hint
(``Media.exif_location``), never published. Thumbnails: 320 px JPEG.

Faces and licence plates (reports/blur.py) are found on that re-encoded copy and
blurred on the public copy and its thumbnail, synchronously during the upload (the
detector sees a 1280 px copy: bench/blur.py measures the time per 12 MP photo). The
unblurred copy (same size, EXIF stripped too) is kept as ``Media.original`` under
MEDIA_ROOT/private/, served to the report's staff only (reports/views_media.py).

Video: one MP4, WebM or MOV, at most REPORT_VIDEO_MAX_BYTES (50 MB) and
REPORT_VIDEO_MAX_SECONDS (120 s), probed with PyAV; the public copy is remuxed (no
re-encoding) with its audio and video streams only, without the container's metadata
(where phones put the place), and a thumbnail is made from its first frame. Videos are
not blurred: one stays staff-only until the desk has watched it and marked it reviewed
(the "review_video" action; policy.access.can_view_media).
"""

import contextlib
import io
import tempfile
import threading
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import filetype
from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

try:
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover
    pass

PHOTO_MIMES = {"image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"}
VIDEO_MIMES = {"video/mp4", "video/webm", "video/quicktime", "video/x-matroska"}
VIDEO_FORMATS = {"video/mp4": "mp4", "video/quicktime": "mp4", "video/webm": "webm", "video/x-matroska": "webm"}
PUBLIC_MAX_SIDE = 2560
# Photos are downsized in the citizen's browser (reports/static/reports/photo-prep.js)
# to this longest side, JPEG at this quality, before they are sent: a 12 MP phone photo
# of ~4 MB becomes ~0.5-1 MB on a slow connection. Below PUBLIC_MAX_SIDE, so the public
# copy keeps every pixel that was sent. Photos under PHONE_KEEP_BYTES and within the side
# are sent as they are.
PHONE_MAX_SIDE = 2048
PHONE_JPEG_QUALITY = 0.85
PHONE_KEEP_BYTES = 512 * 1024
THUMB_SIDE = 320
MB = 1024 * 1024


def photo_max_bytes():
    return settings.REPORT_PHOTO_MAX_BYTES


def video_max_bytes():
    return settings.REPORT_VIDEO_MAX_BYTES


def video_max_seconds():
    return settings.REPORT_VIDEO_MAX_SECONDS


def max_photos():
    return settings.REPORT_PHOTO_MAX_COUNT


def max_pixels():
    return settings.REPORT_IMAGE_MAX_PIXELS


# Pillow's own guard (a warning above, an error above twice this) for any image this
# process opens, set to the same budget.
Image.MAX_IMAGE_PIXELS = max_pixels()


@dataclass
class Checked:
    kind: str
    name: str
    content_type: str
    data: bytes
    ext: str
    size: int
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    thumbnail: bytes | None = None
    original: bytes | None = None  # photos: the unblurred copy, staff only
    regions: list = field(default_factory=list)  # photos: what was blurred (reports.blur)
    exif_location: Point | None = None
    extra: dict = field(default_factory=dict)


def _name(f):
    return str(getattr(f, "name", "") or _("tệp"))[:200]


def _size(f):
    size = getattr(f, "size", None)
    if size is None:
        pos = f.tell()
        f.seek(0, io.SEEK_END)
        size = f.tell()
        f.seek(pos)
    return size


def _head(f, n=8192):
    f.seek(0)
    head = f.read(n)
    f.seek(0)
    return head


def _mb(n):
    return f"{n / MB:.0f} MB"


def _rational(value):
    try:
        return float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        num, den = value
        return float(num) / float(den)


def exif_gps(img):
    """(lon, lat) from the image's EXIF GPS IFD, or None."""
    try:
        gps = img.getexif().get_ifd(0x8825)
    except Exception:
        return None
    if not gps or 2 not in gps or 4 not in gps:
        return None
    try:
        def dms(values):
            d, m, s = (_rational(v) for v in values)
            return d + m / 60 + s / 3600

        lat = dms(gps[2])
        lon = dms(gps[4])
        if str(gps.get(1, "N")).upper().startswith("S"):
            lat = -lat
        if str(gps.get(3, "E")).upper().startswith("W"):
            lon = -lon
    except Exception:
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    return lon, lat


def _encode(img, quality=85):
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def _jpeg(img, side, quality=85):
    img = img.copy()
    img.thumbnail((side, side))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


class TooCostly(Exception):
    """Decoding this image would cost more memory than the budget."""


def decode_max_bytes():
    return settings.REPORT_IMAGE_DECODE_MAX_BYTES


# Full-size copies of the pixels a decoder holds at once: Pillow's WebP plugin takes the
# frame from libwebp's own canvas as bytes and unpacks those into the image (three);
# pillow_heif decodes into libheif's buffer, then into the image (two).
DECODER_COPIES = {"WEBP": 3, "HEIF": 2}


def _has_alpha(img):
    return "A" in img.mode or "transparency" in img.info


def _decode_cost(img, side):
    """Bytes Pillow holds at the peak of decoding `img` (at its current, possibly
    drafted, size) and bringing it to `side` (see _decode_reduced and check_photo):

    - the pixels: 4 bytes each for colour, 1 for grey or palette, times the decoder's
      full-size copies (DECODER_COPIES);
    - reduced by an integer factor (twice `side` or more): an image in a mode reduce
      cannot take is converted first (a full-size copy), and one with alpha is
      premultiplied first (another);
    - resized in one pass (less than twice `side`; a palette image takes the nearest
      pixel, no copy): alpha premultiplied first, and the half-way image of the two-pass
      resampling, the new width by the full height.
    """
    pixels = img.width * img.height
    grey_or_palette = img.mode in ("1", "L", "P")
    cost = pixels * (1 if grey_or_palette else 4) * DECODER_COPIES.get(img.format, 1)
    longest = max(img.size)
    if longest <= side:
        return cost
    if longest >= 2 * side:
        if img.mode not in ("L", "RGB", "RGBA", "LA"):
            cost += pixels * 4
        if _has_alpha(img):
            cost += pixels * 4
    elif img.mode not in ("1", "P"):
        if img.mode not in ("L", "RGB"):
            cost += pixels * 4
        cost += pixels * (1 if img.mode == "L" else 4) * side // longest
    return cost


def _decode_reduced(img, side):
    """Decode no more pixels than the public copy (longest side ≤ `side`) needs: a JPEG
    is decoded at 1/2, 1/4 or 1/8 scale by the decoder itself (``draft``: a 40 MP photo
    costs what a 10 MP one does); other formats are decoded whole, then reduced by an
    integer factor at once, so the full-size pixels live only for that moment. Raises
    TooCostly (before decoding) when that would hold more than decode_max_bytes()."""
    longest = max(img.size)
    if img.format == "JPEG" and longest > side:
        w, h = img.size
        img.draft(img.mode, (max(1, w * side // longest), max(1, h * side // longest)))
    factor = max(img.size) // side
    if _decode_cost(img, side) > decode_max_bytes():
        raise TooCostly
    img.load()
    if factor >= 2:
        if img.mode not in ("L", "RGB", "RGBA", "LA"):
            img = img.convert("RGBA" if _has_alpha(img) else "RGB")
        reduced = img.reduce(factor)
        reduced.info, reduced.format = img.info, img.format  # the EXIF orientation goes along
        img.close()
        img = reduced
    return img


def _check_size_and_content(f, max_bytes, mimes, too_big, bad_type):
    """Size first (cheap), then the type from the content's first bytes, never the name."""
    name = _name(f)
    size = _size(f)
    if size > max_bytes:
        raise ValidationError(too_big % {"name": name, "max": _mb(max_bytes)}, code="too_big")
    kind = filetype.guess(_head(f))
    if kind is None or kind.mime not in mimes:
        raise ValidationError(
            bad_type % {"name": name, "kind": kind.mime if kind else _("không nhận ra")}, code="bad_type"
        )
    return name, size, kind


_slots = (0, None)  # (size, the process's semaphore)


@contextlib.contextmanager
def decode_slot():
    """One of the process's REPORT_IMAGE_DECODE_SLOTS for decoding a photo: with the
    decoding budget, what photos cost a process at once is bounded (2 × ~170 MB), however
    many requests send one. None free within REPORT_IMAGE_DECODE_WAIT_S: Busy (503 with
    Retry-After; apps and the offline outbox send again), so waiting requests do not hold
    the server's threads."""
    global _slots
    size = settings.REPORT_IMAGE_DECODE_SLOTS
    if _slots[0] != size:
        _slots = (size, threading.BoundedSemaphore(size))
    slots = _slots[1]
    if not slots.acquire(timeout=settings.REPORT_IMAGE_DECODE_WAIT_S):
        from geo_portal.production import Busy

        raise Busy(_("Máy chủ đang xử lý nhiều ảnh cùng lúc. Vui lòng gửi lại sau ít giây."), retry_after=5)
    try:
        yield
    finally:
        slots.release()


def check_photo(f, blur=True) -> Checked:
    """Check, decode reduced and re-encode a photo; with ``blur`` (uploads that are
    stored), faces and plates are blurred on the public copy and thumbnail."""
    name, size, kind = _check_size_and_content(
        f, photo_max_bytes(), PHOTO_MIMES,
        _("Ảnh %(name)s lớn quá %(max)s."),
        _("Tệp %(name)s không phải ảnh JPEG, PNG, WebP hay HEIC (nội dung: %(kind)s)."),
    )
    with decode_slot():
        return _decoded_photo(f, name, kind, blur)


def _decoded_photo(f, name, kind, blur):
    data = f.read()
    f.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            # From the header, before a single pixel is decoded: a 143 KB PNG of
            # 7000×7000 would otherwise cost ~480 MB.
            if img.width * img.height > max_pixels():
                raise Image.DecompressionBombError("too many pixels")
            img = _decode_reduced(img, PUBLIC_MAX_SIDE)
            gps = exif_gps(img)  # after: a PNG's EXIF may follow its pixels (reading it decodes them)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationError(
            _("Ảnh %(name)s có quá nhiều điểm ảnh (tối đa %(max)s triệu điểm ảnh).")
            % {"name": name, "max": max_pixels() // 1_000_000},
            code="bomb",
        ) from None
    except TooCostly:
        raise ValidationError(
            _("Ảnh %(name)s quá lớn để xử lý (%(mp).0f triệu điểm ảnh). Hãy gửi ảnh JPEG hoặc ảnh nhỏ hơn.")
            % {"name": name, "mp": img.width * img.height / 1_000_000},
            code="too_costly",
        ) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise ValidationError(_("Ảnh %(name)s bị hỏng hoặc không đọc được.") % {"name": name}, code="corrupt") from None
    # Every step below works on the public size, in place where Pillow allows it
    # (exif_transpose would otherwise return a copy even when nothing turns).
    img.thumbnail((PUBLIC_MAX_SIDE, PUBLIC_MAX_SIDE))
    ImageOps.exif_transpose(img, in_place=True)
    if img.mode not in ("RGB", "L"):
        rgba = img.convert("RGBA")
        img = Image.new("RGB", rgba.size, (255, 255, 255))
        img.paste(rgba, mask=rgba.getchannel("A"))
        del rgba
    original, regions = None, []
    if blur:
        from reports import blur as blurring

        original = _encode(img)
        regions = blurring.detect(img)
        img = blurring.apply(img, regions)
    public = _encode(img)
    thumb = _jpeg(img, THUMB_SIDE, quality=80)
    width, height = img.size
    return Checked(
        kind="photo", name=name, content_type="image/jpeg", data=public, ext="jpg", size=len(public),
        width=width, height=height, thumbnail=thumb, original=original, regions=regions,
        exif_location=Point(*gps, srid=4326) if gps else None, extra={"original_type": kind.mime},
    )


def _open_av(f):
    import av

    path = getattr(f, "temporary_file_path", None)
    f.seek(0)
    return av.open(path() if callable(path) else f, mode="r")


def check_video(f) -> Checked:
    import av

    name, size, kind = _check_size_and_content(
        f, video_max_bytes(), VIDEO_MIMES,
        _("Video %(name)s lớn quá %(max)s."),
        _("Tệp %(name)s không phải video MP4, WebM hay MOV (nội dung: %(kind)s)."),
    )
    try:
        src = _open_av(f)
    except (av.error.FFmpegError, OSError, ValueError):
        raise ValidationError(_("Video %(name)s bị hỏng hoặc không đọc được.") % {"name": name},
                              code="corrupt") from None
    try:
        vstreams = list(src.streams.video)
        if not vstreams:
            raise ValidationError(_("Tệp %(name)s không có hình (không phải video).") % {"name": name}, code="bad_type")
        vs = vstreams[0]
        duration = None
        if src.duration:
            duration = src.duration / 1_000_000
        elif vs.duration and vs.time_base:
            duration = float(vs.duration * vs.time_base)
        if duration is None:
            raise ValidationError(_("Không xác định được độ dài video %(name)s.") % {"name": name}, code="corrupt")
        if duration > video_max_seconds():
            raise ValidationError(
                _("Video %(name)s dài %(sec)d giây, tối đa %(max)d giây.") % {"name": name, "sec": duration,
                                                                              "max": video_max_seconds()},
                code="too_long",
            )
        width, height = vs.codec_context.width, vs.codec_context.height
        thumb = None
        try:
            for frame in src.decode(vs):
                thumb = _jpeg(frame.to_image(), THUMB_SIDE, quality=80)
                break
        except av.error.FFmpegError:
            thumb = None
        public = _remux(f, VIDEO_FORMATS[kind.mime])
    except av.error.FFmpegError:
        raise ValidationError(_("Video %(name)s bị hỏng hoặc không đọc được.") % {"name": name},
                              code="corrupt") from None
    finally:
        src.close()
    ext = "webm" if VIDEO_FORMATS[kind.mime] == "webm" else "mp4"
    return Checked(
        kind="video", name=name, content_type=f"video/{ext}", data=public, ext=ext, size=len(public),
        width=width, height=height, duration_s=round(duration, 2), thumbnail=thumb,
    )


def _remux(f, fmt):
    """Copy the audio and video packets into a fresh container: no metadata, no data
    streams (GPS tracks), no re-encoding."""
    import av

    src = _open_av(f)
    # A named file: "faststart" moves the index to the front (playback starts before
    # the whole file is loaded) and needs to re-read what it wrote.
    with tempfile.NamedTemporaryFile(suffix=f".{fmt}") as tmp:
        options = {"movflags": "faststart"} if fmt == "mp4" else {}
        dst = av.open(tmp.name, mode="w", format=fmt, options=options)
        try:
            mapping = {}
            for s in list(src.streams.video)[:1] + list(src.streams.audio)[:1]:
                out = dst.add_stream_from_template(s)
                if hasattr(out, "metadata"):
                    out.metadata.clear()
                mapping[s.index] = out
            for packet in src.demux(*[s for s in src.streams if s.index in mapping]):
                if packet.dts is None:
                    continue
                packet.stream = mapping[packet.stream.index]
                dst.mux(packet)
        finally:
            dst.close()
            src.close()
        return Path(tmp.name).read_bytes()


def check_uploads(photos, videos, max_photos=None):
    """Check and prepare every upload; raises one ValidationError with field errors
    ("photos", "video") before anything is stored."""
    photos = [p for p in (photos or []) if p]
    videos = [v for v in (videos or []) if v]
    errors = {}
    limit = max_photos if max_photos is not None else globals()["max_photos"]()
    if len(photos) > limit:
        errors["photos"] = [_("Tối đa %(n)d ảnh.") % {"n": limit}]
    if len(videos) > 1:
        errors["video"] = [_("Chỉ gửi được một video.")]
    checked = []
    if not errors:
        for f in photos:
            try:
                checked.append(check_photo(f))
            except ValidationError as exc:
                errors.setdefault("photos", []).extend(exc.messages)
        for f in videos:
            try:
                checked.append(check_video(f))
            except ValidationError as exc:
                errors.setdefault("video", []).extend(exc.messages)
    if errors:
        raise ValidationError(errors)
    return checked


def store(report, checked, user=None, stage="report"):
    """Save prepared uploads as Media rows of the report."""
    from reports.models import Media

    rows = []
    for c in checked:
        stem = uuid.uuid4().hex
        m = Media(
            report=report, kind=c.kind, stage=stage, content_type=c.content_type, size=c.size,
            original_name=c.name, width=c.width, height=c.height, duration_s=c.duration_s,
            exif_location=c.exif_location,
            uploaded_by=user if getattr(user, "is_authenticated", False) else None,
            blur_regions=c.regions, blur_detector=blur_detector() if c.original else "",
        )
        m.file.save(f"{stem}.{c.ext}", ContentFile(c.data), save=False)
        if c.original:
            m.original.save(f"{stem}.jpg", ContentFile(c.original), save=False)
        if c.thumbnail:
            m.thumbnail.save(f"{stem}.jpg", ContentFile(c.thumbnail), save=False)
        m.save()
        rows.append(m)
    return rows


def blur_detector():
    from reports import blur

    return blur.DETECTOR_VERSION


def rerender(m, regions):
    """Blur ``regions`` on the photo's original again: a new public copy and thumbnail
    under new names (a public copy is cached under its name), the old files removed."""
    from reports import blur

    if m.kind != "photo" or not m.original:
        raise ValueError("only a photo with its original can be blurred again")
    with m.original.open("rb") as fh:
        img = Image.open(io.BytesIO(fh.read()))
        img.load()
    img = blur.apply(img, regions)
    old = [f.name for f in (m.file, m.thumbnail) if f]
    stem = uuid.uuid4().hex
    public = _encode(img)
    m.file.save(f"{stem}.jpg", ContentFile(public), save=False)
    m.thumbnail.save(f"{stem}.jpg", ContentFile(_jpeg(img, THUMB_SIDE, quality=80)), save=False)
    m.size = len(public)
    m.blur_regions = list(regions)
    return old


def delete_files(rows):
    for m in rows:
        for f in (m.file, m.thumbnail, getattr(m, "original", None)):
            try:
                if f:
                    f.delete(save=False)
            except Exception:
                pass
