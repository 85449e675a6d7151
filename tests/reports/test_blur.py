"""Faces and plates blurred on every public copy (reports/blur.py, reports/media.py):
real photos with faces (fixtures/blur/, public domain or CC0, face boxes labelled by
hand in fixtures/blur/labels.json), the public copy and thumbnail changed there and
nowhere else, our own detector no longer finding the face, the original for the
report's staff only, the desk editing the regions (an internal event), videos hidden
until the desk reviewed them."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image
from rest_framework.test import APIClient

from reports import blur, intake, workflow
from reports.models import Media, Report, ReportEvent
from tests.reports.conftest import BAI_CHAY, mp4_bytes, new_key, report_data

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent.parent / "fixtures" / "blur"
LABELS = json.loads((FIXTURES / "labels.json").read_text())
FACES = [name for name, v in LABELS.items() if v["faces"]]  # astronaut, cameraman, Grace Hopper


def upload(name, data=None):
    data = data if data is not None else (FIXTURES / name).read_bytes()
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def new_report(citizen, photos=(), video=None):
    files = {"photos": list(photos)}
    if video is not None:
        files["video"] = [video]
    return intake.create_report(report_data(BAI_CHAY), files, citizen, new_key())


def pixels(field):
    with field.open("rb") as fh:
        return np.asarray(Image.open(io.BytesIO(fh.read())).convert("RGB"), dtype=np.int16)


def read(client, url):
    resp = client.get(url)
    return resp.status_code, (b"".join(resp.streaming_content) if resp.status_code == 200 else b"")


def diff_inside_outside(a, b, box, margin):
    """Mean absolute difference inside ``box`` and outside it grown by ``margin`` px."""
    x0, y0, x1, y1 = (int(v) for v in box)
    d = np.abs(a - b).mean(axis=2)
    inside = d[y0:y1, x0:x1].mean()
    mask = np.ones(d.shape, bool)
    mask[max(0, y0 - margin):y1 + margin, max(0, x0 - margin):x1 + margin] = False
    return inside, d[mask].mean()


def iou(a, b):
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def faces_at(img_array, box):
    """Faces our detector finds on an image overlapping ``box`` (IoU ≥ 0.2)."""
    img = Image.fromarray(img_array.astype(np.uint8))
    w, h = img.size
    found = [(r["x"] * w, r["y"] * h, (r["x"] + r["w"]) * w, (r["y"] + r["h"]) * h) for r in blur.detect_faces(img)]
    return [f for f in found if iou(f, box) >= 0.2]


@pytest.mark.parametrize("name", FACES)
def test_a_face_is_blurred_on_the_public_copy_and_thumbnail_and_kept_on_the_original(citizen, name):
    report = new_report(citizen, [upload(name)])
    m = Media.objects.get(report=report)
    box = LABELS[name]["faces"][0]  # by hand, in the source's pixels (< 2560 px: kept at its size)
    source = np.asarray(Image.open(FIXTURES / name).convert("RGB"), dtype=np.int16)
    public, original = pixels(m.file), pixels(m.original)
    assert public.shape == original.shape == source.shape
    # the original is the photo itself (re-encoded once)
    assert np.abs(original - source).mean() < 4
    # the face is changed strongly; away from it the public copy is the photo
    inside, outside = diff_inside_outside(public, original, box, margin=int(0.45 * (box[3] - box[1])))
    assert inside > 12, inside
    assert outside < 2.5, outside
    # our detector finds the face on the original, and no longer on the public copy
    assert faces_at(original, box)
    assert faces_at(public, box) == []
    # the thumbnail is made from the blurred copy
    thumb = pixels(m.thumbnail)
    k = thumb.shape[1] / source.shape[1]
    small_original = np.asarray(Image.fromarray(original.astype(np.uint8)).resize(thumb.shape[1::-1]), dtype=np.int16)
    t_in, t_out = diff_inside_outside(thumb, small_original, [v * k for v in box],
                                      margin=int(0.45 * k * (box[3] - box[1])))
    assert t_in > 12 and t_out < 4, (t_in, t_out)
    # one face recorded (the plate rule may add a box elsewhere: it blurs generously)
    assert [r["kind"] for r in m.blur_regions].count("face") == 1 and m.blur_detector == blur.DETECTOR_VERSION


@pytest.mark.parametrize("name", ["chelsea.jpg", "coffee.jpg", "brick.jpg"])
def test_a_photo_without_faces_or_plates_is_published_as_it_is(citizen, name):
    report = new_report(citizen, [upload(name)])
    m = Media.objects.get(report=report)
    assert m.blur_regions == []
    assert np.abs(pixels(m.file) - pixels(m.original)).mean() < 1


def test_a_vietnamese_plate_is_blurred(citizen):
    from bench.blur_set import render_plate

    scene = Image.open(FIXTURES / "brick.jpg").convert("RGB").resize((1600, 1200))
    plate = render_plate(["29A-123.45"], "white", scale=0.8)  # 416×88 px
    scene.paste(plate, (600, 700))
    buf = io.BytesIO()
    scene.save(buf, "JPEG", quality=92)
    report = new_report(citizen, [upload("xe.jpg", buf.getvalue())])
    m = Media.objects.get(report=report)
    box = (600, 700, 600 + plate.width, 700 + plate.height)
    inside, outside = diff_inside_outside(pixels(m.file), pixels(m.original), box, margin=60)
    assert inside > 12 and outside < 2.5, (inside, outside)
    assert "plate" in [r["kind"] for r in m.blur_regions]


@pytest.fixture
def published_photo(citizen, operator):
    """A forwarded (public) report with the astronaut's portrait."""
    report = new_report(citizen, [upload("astronaut.jpg")])
    workflow.transition(report.pk, "forward", operator)
    return Media.objects.get(report=report)


@pytest.mark.parametrize("who, original, public", [
    ("anonymous", 404, 200),
    ("reporter", 404, 200),
    ("other_citizen", 404, 200),
    ("other_officer", 404, 200),  # another commune's unit: staff, not of this report
    ("officer", 200, 200),
    ("operator", 200, 200),
    ("leader", 200, 200),
])
def test_the_original_is_served_to_the_reports_staff_only(published_photo, who, original, public, citizen, officer,
                                                           other_officer, operator, leader):
    from django.contrib.auth import get_user_model

    users = {"reporter": citizen, "officer": officer, "other_officer": other_officer, "operator": operator,
             "leader": leader,
             "other_citizen": get_user_model().objects.create(username="+84910000077", phone="+84910000077")}
    client = Client()
    if who in users:
        client.force_login(users[who])
    m = published_photo
    status, body = read(client, m.original.url)
    assert status == original
    if status == 200:
        assert body == m.original.open("rb").read()
        assert "no-store" in client.get(m.original.url)["Cache-Control"]
    assert read(client, m.file.url)[0] == public
    assert read(client, m.thumbnail.url)[0] == public
    # the original's address is never on the public page
    page = client.get(f"/phan-anh/{m.report.code}/").content.decode()
    assert m.original.url not in page and m.file.url in page


def test_desk_removes_and_adds_regions_and_the_trail_records_it(published_photo, operator):
    m = published_photo
    box = LABELS["astronaut.jpg"]["faces"][0]
    desk = Client()
    desk.force_login(operator)
    url = f"/dieu-hanh/{m.report.code}/"
    page = desk.get(url).content.decode()
    assert m.original.url in page and 'class="blur-form' in page
    old_public = m.file.name
    report = Report.objects.get(pk=m.report_id)

    # 1. the desk removes the detector's box (say, a poster's face the public may see)
    resp = desk.post(url, {"action": "edit_blur", "row_version": report.row_version, "media": m.pk, "regions": "[]"})
    assert resp.status_code == 302
    m.refresh_from_db()
    assert m.blur_regions == [] and m.reviewed and m.file.name != old_public
    inside, _out = diff_inside_outside(pixels(m.file), pixels(m.original), box, margin=40)
    assert inside < 2.5  # the face is shown as it is
    ev = ReportEvent.objects.filter(report=m.report, action="edit_blur").get()
    assert not ev.is_public and ev.actor == operator and ev.actor_role == "operator"
    assert ev.data["added"] == [] and [r["kind"] for r in ev.data["removed"]] == ["face"]
    # the old public file is gone (its cached name is never served again)
    assert Client().get("/media/" + old_public).status_code == 404

    # 2. the desk draws a box by hand over the lower right corner
    report.refresh_from_db()
    manual = {"x": 0.7, "y": 0.75, "w": 0.25, "h": 0.2}
    resp = desk.post(url, {"action": "edit_blur", "row_version": report.row_version, "media": m.pk,
                           "regions": json.dumps([manual])})
    assert resp.status_code == 302
    m.refresh_from_db()
    corner = (0.7 * 512 + 2, 0.75 * 512 + 2, 0.95 * 512 - 2, 0.95 * 512 - 2)
    inside, outside = diff_inside_outside(pixels(m.file), pixels(m.original), corner, margin=50)
    assert inside > 12 and outside < 2.5
    ev = ReportEvent.objects.filter(report=m.report, action="edit_blur").order_by("-id").first()
    assert [(r["kind"], r["source"], r["x"]) for r in ev.data["added"]] == [("manual", "desk", 0.7)]
    assert ev.data["removed"] == []
    # not on the public timeline
    public_page = Client().get(f"/phan-anh/{m.report.code}/").content.decode()
    assert "Sửa vùng làm mờ" not in public_page


@pytest.mark.parametrize("regions, field", [
    ("not json", "regions"),
    (json.dumps({"x": 0.1}), "regions"),
    (json.dumps([{"x": 0.5, "y": 0.5, "w": 0.8, "h": 0.1}]), "regions"),  # past the right edge
    (json.dumps([{"x": -0.1, "y": 0.5, "w": 0.1, "h": 0.1}]), "regions"),
    (json.dumps([{"x": 0.1, "y": 0.1, "w": 0, "h": 0.1}]), "regions"),
    (json.dumps([{"x": "a", "y": 0.1, "w": 0.1, "h": 0.1}]), "regions"),
    (json.dumps([{"x": 0.1, "y": 0.1, "w": 0.1, "h": 0.1}] * 101), "regions"),
])
def test_bad_regions_answer_a_field_error(published_photo, operator, regions, field):
    api = APIClient()
    api.force_authenticate(operator)
    resp = api.post(f"/api/v1/reports/{published_photo.report.code}/actions/edit_blur",
                    {"media": published_photo.pk, "regions": regions}, format="json")
    assert resp.status_code == 400, resp.content
    assert field in resp.json()["errors"]


def test_media_of_another_report_or_unknown_is_refused(published_photo, citizen, operator):
    other = new_report(citizen, [upload("brick.jpg")])
    api = APIClient()
    api.force_authenticate(operator)
    for media_id in (Media.objects.get(report=other).pk, 10**12, "abc", ""):
        resp = api.post(f"/api/v1/reports/{published_photo.report.code}/actions/edit_blur",
                        {"media": media_id, "regions": "[]"}, format="json")
        assert resp.status_code == 400 and "media" in resp.json()["errors"], (media_id, resp.content)


def test_citizen_and_officer_may_not_edit_the_blur(published_photo, citizen, officer):
    for user in (citizen, officer):
        api = APIClient()
        api.force_authenticate(user)
        resp = api.post(f"/api/v1/reports/{published_photo.report.code}/actions/edit_blur",
                        {"media": published_photo.pk, "regions": "[]"}, format="json")
        assert resp.status_code == 403
    published_photo.refresh_from_db()
    assert [r["kind"] for r in published_photo.blur_regions] == ["face"]


def test_a_video_is_shown_to_staff_only_until_the_desk_reviewed_it(citizen, operator):
    video = SimpleUploadedFile("clip.mp4", mp4_bytes(), content_type="video/mp4")
    report = new_report(citizen, video=video)
    workflow.transition(report.pk, "forward", operator)
    v = Media.objects.get(report=report, kind="video")
    anonymous, desk = Client(), Client()
    desk.force_login(operator)
    assert read(anonymous, v.file.url)[0] == 404
    assert read(desk, v.file.url)[0] == 200
    page = anonymous.get(f"/phan-anh/{report.code}/").content.decode()
    assert "Video đang chờ cán bộ duyệt" in page and v.file.url not in page
    api_media = APIClient().get(f"/api/v1/reports/{report.code}").json()["properties"]["media"]
    assert [m["kind"] for m in api_media] == []

    report.refresh_from_db()
    resp = desk.post(f"/dieu-hanh/{report.code}/", {"action": "review_video", "row_version": report.row_version,
                                                     "media": v.pk})
    assert resp.status_code == 302
    assert read(anonymous, v.file.url)[0] == 200
    page = anonymous.get(f"/phan-anh/{report.code}/").content.decode()
    assert "Video đang chờ cán bộ duyệt" not in page and v.file.url in page
    ev = ReportEvent.objects.get(report=report, action="review_video")
    assert ev.data == {"media": v.pk} and ev.actor == operator and not ev.is_public
