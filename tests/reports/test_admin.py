"""The admin: the category tree, the editable calendar, reports read-mostly on a map,
events read-only."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model

from reports import intake
from reports.models import Holiday
from tests.reports.conftest import new_key, report_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    admin = get_user_model().objects.create_superuser("qt-admin", "qt@example.org", "x-secret-123")
    client.force_login(admin)
    return client


def test_admin_pages_work_and_events_are_read_only(admin_client):
    report = intake.create_report(report_data(), None, None, new_key())
    for url in ["/admin/reports/category/", "/admin/reports/holiday/", "/admin/reports/report/",
                "/admin/reports/reportevent/", "/admin/reports/staffrole/", "/admin/reports/rating/",
                "/admin/reports/comment/", f"/admin/reports/report/{report.pk}/change/"]:
        assert admin_client.get(url).status_code == 200, url
    change = admin_client.get(f"/admin/reports/report/{report.pk}/change/").content.decode()
    assert 'id="report-map"' in change and "vendor/leaflet/leaflet.js" in change
    assert "cdn." not in change and "openstreetmap" not in change  # works offline
    event = report.events.get()
    page = admin_client.get(f"/admin/reports/reportevent/{event.pk}/change/")
    assert page.status_code == 200 and b'name="action"' not in page.content  # no editable field
    assert admin_client.post(f"/admin/reports/reportevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.get("/admin/reports/report/add/").status_code == 403


def test_admin_adds_a_day_off_to_the_calendar(admin_client):
    resp = admin_client.post("/admin/reports/holiday/add/", {"date": "2027-03-15", "name": "Nghỉ bù của tỉnh"})
    assert resp.status_code == 302
    assert Holiday.objects.get(date=dt.date(2027, 3, 15)).is_working_day is False
