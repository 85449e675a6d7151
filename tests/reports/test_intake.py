"""Intake: validation, location and routing, codes, deadlines, idempotency, uploads."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from reports import intake
from reports.models import Media, Report, ReportEvent
from tests.reports.conftest import (
    BAI_CHAY,
    HONG_GAI,
    in_thread,
    jpeg_bytes,
    mp4_bytes,
    new_key,
    photo,
    point_in,
    report_data,
    run_in_threads,
)

pytestmark = pytest.mark.django_db


def errors_of(exc_info):
    return exc_info.value.message_dict


def test_report_is_located_routed_coded_and_received(citizen):
    report = intake.create_report(report_data(), {"photos": [photo()]}, citizen, new_key())
    assert report.code.startswith("PA-20") and len(report.code.split("-")[-1]) == 6
    assert report.commune.code == BAI_CHAY and report.province_code == "22"
    assert report.boundary_version.code == "vn-2025"
    assert report.authority is not None and report.routing_explanation
    assert report.state == "received" and report.forward_due > report.created_at and report.resolve_due is None
    assert report.contact_phone == "+84912345678"
    ev = ReportEvent.objects.get(report=report)
    assert (ev.action, ev.from_state, ev.to_state) == ("receive", "", "received")
    assert (ev.actor, ev.actor_role, ev.data["commune"]) == (citizen, "reporter", BAI_CHAY)
    assert report.media.count() == 1
    # What the one-statement insert wrote reads back like an ORM save.
    fresh = Report.objects.get(pk=report.pk)
    assert (fresh.code, fresh.row_version, fresh.reporter, fresh.state) == (report.code, 0, citizen, "received")
    assert fresh.updated_at and fresh.created_at == report.created_at and fresh.forward_due == report.forward_due
    assert fresh.location.equals_exact(report.location, 1e-9) and fresh.location.srid == 4326
    assert fresh.routing_explanation == report.routing_explanation and fresh.authority == report.authority


def test_same_idempotency_key_makes_one_report(citizen):
    key = new_key()
    first = intake.create_report(report_data(), None, citizen, key)
    again = intake.create_report(report_data(), None, citizen, key)
    assert again.pk == first.pk and again.replayed and not first.replayed
    assert Report.objects.filter(idempotency_key=key).count() == 1


def test_idempotency_key_race_two_connections_make_one_report(citizen):
    """Two submissions with one key at the same time, on two real connections."""
    key = new_key()
    data = report_data()
    results = run_in_threads(*[lambda: intake.create_report(dict(data), None, None, key)] * 2)
    try:
        assert not any(isinstance(r, BaseException) for r in results), results
        assert results[0].pk == results[1].pk
        assert sorted([results[0].replayed, results[1].replayed]) == [False, True]
        assert Report.objects.filter(idempotency_key=key).count() == 1
    finally:
        in_thread(lambda: Report.objects.filter(idempotency_key=key).delete())


@pytest.mark.parametrize(
    "change, field",
    [
        ({"category": ""}, "category"),
        ({"category": "khong-co"}, "category"),
        ({"category": "dien"}, "category"),  # a group, not a category
        ({"lat": "200"}, "lat"),
        ({"lon": "abc"}, "lon"),
        ({"lat": "nan"}, "lat"),
        ({"description": ""}, "description"),
        ({"description": "x" * 10_000}, "description"),
        ({"contact_phone": "12"}, "contact_phone"),
        ({"contact_email": "not-an-email"}, "contact_email"),
    ],
)
def test_bad_input_gives_field_errors_and_stores_nothing(citizen, change, field):
    before = Report.objects.count()
    with pytest.raises(ValidationError) as exc:
        intake.create_report(report_data(**change), None, citizen, new_key())
    assert field in errors_of(exc) and errors_of(exc)[field][0]
    assert Report.objects.count() == before


def test_ten_thousand_characters_says_how_long(citizen):
    with pytest.raises(ValidationError) as exc:
        intake.create_report(report_data(description="á" * 10_000), None, citizen, None)
    assert "10000" in errors_of(exc)["description"][0] and "5000" in errors_of(exc)["description"][0]


def test_pin_outside_every_jurisdiction_is_a_location_error(citizen):
    data = report_data()
    data.update(lat="48.8566", lon="2.3522")  # Paris
    with pytest.raises(ValidationError) as exc:
        intake.create_report(data, None, citizen, None)
    assert errors_of(exc)["location"][0]


def test_html_in_description_is_stored_as_plain_text(citizen):
    text = '<script>alert("x")</script><b>đèn hỏng</b>'
    report = intake.create_report(report_data(description=text), None, citizen, None)
    report.refresh_from_db()
    assert report.description == text  # kept verbatim; escaped wherever it is shown


def test_executable_renamed_jpg_is_refused_and_nothing_stored(citizen):
    exe = SimpleUploadedFile("anh.jpg", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 500,
                             content_type="image/jpeg")
    before = (Report.objects.count(), Media.objects.count())
    with pytest.raises(ValidationError) as exc:
        intake.create_report(report_data(), {"photos": [photo(), exe]}, citizen, new_key())
    msg = errors_of(exc)["photos"][0]
    assert "anh.jpg" in msg and "không phải ảnh" in msg
    assert (Report.objects.count(), Media.objects.count()) == before


def test_oversized_and_too_long_video_refused(citizen, settings):
    big = SimpleUploadedFile("clip.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * (51 * 1024 * 1024),
                             content_type="video/mp4")
    with pytest.raises(ValidationError) as exc:
        intake.create_report(report_data(), {"video": [big]}, citizen, None)
    assert "50 MB" in errors_of(exc)["video"][0]
    settings.REPORT_VIDEO_MAX_SECONDS = 1
    long_clip = SimpleUploadedFile("clip.mp4", mp4_bytes(seconds=3), content_type="video/mp4")
    with pytest.raises(ValidationError) as exc:
        intake.create_report(report_data(), {"video": [long_clip]}, citizen, None)
    assert "tối đa 1 giây" in errors_of(exc)["video"][0]


def test_video_is_probed_remuxed_without_metadata_and_thumbnailed(citizen):
    clip = SimpleUploadedFile("clip.mov", mp4_bytes(seconds=2, metadata={"location": "+20.9500+107.0700/"}),
                              content_type="video/quicktime")
    report = intake.create_report(report_data(), {"video": [clip]}, citizen, None)
    m = report.media.get(kind="video")
    assert 1.5 <= m.duration_s <= 2.5 and m.thumbnail
    import av

    with av.open(m.file.path) as c:
        assert "location" not in c.metadata and len(c.streams.video) == 1


def test_too_many_photos(citizen):
    with pytest.raises(ValidationError) as exc:
        intake.create_report(report_data(), {"photos": [photo() for _ in range(6)]}, citizen, None)
    assert "5" in errors_of(exc)["photos"][0]


def test_decompression_bomb_refused(citizen, settings):
    settings.REPORT_IMAGE_MAX_PIXELS = 1_000_000
    out = io.BytesIO()
    Image.new("1", (4000, 4000)).save(out, "PNG")  # tiny file, 16 megapixels
    bomb = SimpleUploadedFile("bomb.png", out.getvalue(), content_type="image/png")
    with pytest.raises(ValidationError) as exc:
        intake.create_report(report_data(), {"photos": [bomb]}, citizen, None)
    assert "điểm ảnh" in errors_of(exc)["photos"][0]


def test_exif_gps_is_a_hint_and_stripped_from_the_public_copy(citizen):
    original = jpeg_bytes(size=(120, 90), gps=(20.9512, 107.0436))
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the test photo does carry GPS
    report = intake.create_report(report_data(), {"photos": [SimpleUploadedFile("gps.jpg", original)]}, citizen, None)
    m = report.media.get()
    assert m.exif_location is not None
    assert abs(m.exif_location.y - 20.9512) < 1e-3 and abs(m.exif_location.x - 107.0436) < 1e-3
    public = Image.open(m.file.path)
    assert not public.getexif().get_ifd(0x8825) and len(public.getexif()) == 0
    assert b"PhoneMaker" not in m.file.open("rb").read()
    thumb = Image.open(m.thumbnail.path)
    assert max(thumb.size) <= 320


def test_png_webp_and_heic_photos_accepted(citizen):
    import pillow_heif

    files = []
    for fmt, name in (("PNG", "a.png"), ("WEBP", "b.webp")):
        files.append(SimpleUploadedFile(name, jpeg_bytes(fmt=fmt)))
    heif = pillow_heif.from_pillow(Image.new("RGB", (64, 48), (10, 200, 10)))
    out = io.BytesIO()
    heif.save(out, format="HEIF")
    files.append(SimpleUploadedFile("c.heic", out.getvalue()))
    report = intake.create_report(report_data(), {"photos": files}, citizen, None)
    assert report.media.count() == 3
    assert set(report.media.values_list("content_type", flat=True)) == {"image/jpeg"}


def test_preview_shows_commune_and_authority_before_sending():
    data = report_data(commune=HONG_GAI)
    out = intake.preview({"lat": data["lat"], "lon": data["lon"], "category": "do-thi-chieu-sang"})
    assert out["commune"]["code"] == HONG_GAI and out["authority"]["name"] and out["explanation"]


def test_routing_cache_outside_transactions_follows_rule_changes():
    """Outside a transaction (as in a web request) rules and routes are cached per
    process; saving a rule clears them. Run on a thread's own connection (committed)."""
    from boundaries.lookup import locate
    from boundaries.models import Authority, RoutingRule
    from boundaries.routing import route_cached
    from reports.models import Category

    def route_now():
        category = Category.objects.select_related("parent").get(code="do-thi-chieu-sang")
        located = locate(point_in_bai_chay())
        routed = route_cached(located.areas, category.codes_for_routing())
        return routed.rule.pk, routed.authority.code

    def point_in_bai_chay():
        from django.contrib.gis.geos import Point

        lon, lat = point_in(BAI_CHAY)
        return Point(lon, lat, srid=4326)

    rule_pk, first = in_thread(route_now)
    assert first == "ubnd-06673" and in_thread(route_now) == (rule_pk, first)
    rule = RoutingRule.objects.get(pk=rule_pk)
    old = (rule.authority_id, rule.target_kind)
    other = Authority.objects.get(code="so-xd-22")

    def retarget(authority_id, target_kind):
        r = RoutingRule.objects.get(pk=rule_pk)
        r.authority_id, r.target_kind = authority_id, target_kind
        r.save()

    try:
        in_thread(lambda: retarget(other.pk, ""))
        assert in_thread(route_now) == (rule_pk, "so-xd-22")
    finally:
        in_thread(lambda: retarget(*old))
    assert in_thread(route_now) == (rule_pk, first)


@pytest.mark.parametrize("where", ["login page", "api token"])
def test_signing_in_with_the_phone_claims_reports_sent_without_an_account(client, settings, tmp_path, where):
    """accounts only says "this phone is proven"; reports reacts by giving the person the
    reports sent from that phone without an account (and nobody else's)."""
    import re

    from geo_portal.accounts import otp, sms

    settings.SMS_BACKEND = "geo_portal.accounts.sms.ConsoleSmsBackend"
    settings.SMS_OUTBOX_DIR = tmp_path
    otp.reset_ip_limit("127.0.0.1")
    mine = intake.create_report(report_data(contact_phone="0912345678"), None, None, None)
    other = intake.create_report(report_data(contact_phone="0987654321"), None, None, None)
    assert mine.reporter_id is None and other.reporter_id is None

    if where == "login page":
        client.post("/accounts/login/", {"action": "phone", "phone": "0912345678"})
    else:
        client.post("/accounts/api/token", {"phone": "0912345678"}, content_type="application/json")
    text = [m for m in sms.read_outbox() if m["to"] == "+84912345678"][-1]["text"]
    code = re.search(r"\b(\d{6})\b", text).group(1)
    if where == "login page":
        resp = client.post("/accounts/login/", {"action": "code", "code": code})
        assert resp.status_code == 302
    else:
        resp = client.post("/accounts/api/token", {"phone": "0912345678", "code": code},
                           content_type="application/json")
        assert resp.status_code == 200
    otp.reset_ip_limit("127.0.0.1")

    mine.refresh_from_db()
    other.refresh_from_db()
    assert mine.reporter is not None and mine.reporter.phone == "+84912345678"
    assert other.reporter_id is None
