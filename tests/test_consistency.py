"""One "overdue" behind every screen.

A mixed set of reports of Quảng Ninh is made through the real intake and workflow at
set moments (some late at the desk's stage, some late at the unit's, reopened with an
old resolve deadline, extended, resolved, rejected, closed); the roll-ups are refreshed
as the beat does; then the IOC wall's counter, the dashboard figures, the ranking, the
overdue layer and both exports must all show the number counted here from the reports'
event trail (the last event's state and the deadlines) — and the number written by hand.
"""

import csv
import datetime as dt
import io

import pytest
from django.utils import timezone

from heatmaps import aggregates as agg
from reports import intake, workflow
from reports.models import Report, ReportEvent
from tests.reports.conftest import BAI_CHAY, HONG_GAI, Clock, new_key, photo, report_data, user

pytestmark = pytest.mark.django_db
PROVINCE = "22"  # Quảng Ninh
QN_BBOX = "106.0,20.0,109.0,22.0"

# Written by hand, not taken from reports.policy.
FORWARD_STAGE = {"received", "reopened"}
RESOLVE_STAGE = {"forwarded", "accepted", "in_progress"}

UNIT_PATH = [("forward", "operator"), ("accept", "officer"), ("start", "officer")]
DONE_PATH = UNIT_PATH + [("resolve", "officer"), ("publish", "operator")]

# name, commune, days ago received, steps (action, who) each one hour after the last —
# or at "now" for the last ones when marked — and whether it is overdue now (by hand).
MIX = [
    ("late-forward-1", BAI_CHAY, 20, [], True),
    ("late-forward-2", HONG_GAI, 15, [], True),
    ("late-forward-3", BAI_CHAY, 9, [], True),
    # with the desk and no unit (what the router leaves for a commune without a committee,
    # as in the demo's pre-reform batch): in no authority's row of the ranking
    ("late-forward-no-unit", HONG_GAI, 12, [], True),
    ("fresh-received", BAI_CHAY, 0, [], False),
    ("late-resolve-forwarded", BAI_CHAY, 20, UNIT_PATH[:1], True),
    ("late-resolve-in-progress", HONG_GAI, 20, UNIT_PATH, True),
    ("on-time-in-progress", BAI_CHAY, 0, UNIT_PATH, False),
    # resolved 20 days ago past its deadline, rated 1 just now: reopened with a new
    # forward deadline (tomorrow or later) — the old resolve deadline does not count
    ("reopened-today", BAI_CHAY, 30, DONE_PATH + [("rate", "citizen", "now")], False),
    # reopened 10 days ago and still with the desk: late at the desk's stage
    ("reopened-long-ago", HONG_GAI, 30, DONE_PATH + [("rate", "citizen", 10)], True),
    # its resolve deadline passed 10 days ago, but an extension was granted to 10 days ahead
    ("extended", BAI_CHAY, 20, UNIT_PATH + [("request_extension", "officer", "now"),
                                            ("grant_extension", "operator", "now")],
     False),
    ("resolved-late", BAI_CHAY, 20, UNIT_PATH + [("resolve", "officer")], False),
    ("published", HONG_GAI, 20, DONE_PATH, False),
    ("rejected", BAI_CHAY, 20, [("reject", "operator")], False),
    ("closed", BAI_CHAY, 30, DONE_PATH + [("rate", "citizen", 10), ("close", "operator", 9)], False),
]

@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SMS_OUTBOX_DIR = tmp_path / "sms"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SMS_BACKEND = "geo_portal.accounts.sms.ConsoleSmsBackend"
    settings.NOTIFY_DISPATCH = "sync"


DATA = {
    "resolve": lambda: {"result_text": "Đã xử lý.", "photos": [photo("kq.jpg")]},
    "rate": lambda: {"level": 1, "reason": "Chưa xử lý triệt để"},
    "reject": lambda: {"reason_code": "duplicate"},
    "close": lambda: {"reason": "Đã giải thích với người dân."},
    "request_extension": lambda: {"reason": "Chờ vật tư.",
                                  "until": (timezone.now() + dt.timedelta(days=10)).isoformat()},
}


def build_mix(clock, people):
    real_now = timezone.now()
    made = {}
    for name, commune, days, steps, _late in MIX:
        moment = real_now - dt.timedelta(days=days) if days else real_now - dt.timedelta(minutes=30)
        clock.set(moment)
        report = intake.create_report(report_data(commune), None, people["citizen"], new_key())
        for step in steps:
            action, who = step[0], step[1]
            if len(step) == 3:
                when = step[2]
                moment = real_now - dt.timedelta(minutes=5) if when == "now" else real_now - dt.timedelta(days=when)
            else:
                moment = moment + dt.timedelta(hours=1)
            clock.set(moment)
            actor = people[who]
            if who == "officer" and commune == HONG_GAI:
                actor = people["other_officer"]  # Hồng Gai's own officer
            report = workflow.transition(report.pk, action, actor, DATA.get(action, dict)())
        if name.endswith("no-unit"):
            Report.objects.filter(pk=report.pk).update(authority=None)
        made[name] = Report.objects.get(pk=report.pk)
    clock.set(None)
    return made


def overdue_from_events(now):
    """Codes of the province's overdue reports: the state is the last event's, the
    deadline the one of that stage."""
    late = set()
    for r in Report.objects.filter(province_code=PROVINCE):
        last = ReportEvent.objects.filter(report=r).order_by("-created_at", "-id").first()
        assert last is not None, f"{r.code} has no event"
        if last.to_state in FORWARD_STAGE:
            due = r.forward_due
        elif last.to_state in RESOLVE_STAGE:
            due = r.resolve_due
        else:
            continue
        if due is not None and due < now:
            late.add(r.code)
    return late


def test_every_screen_counts_the_same_overdue_reports(client, monkeypatch):
    # the Quảng Ninh desk, the officers of Bãi Cháy and Hồng Gai, a citizen (fixtures/staff.py)
    people = {"operator": user("+84900000001"), "officer": user("+84900000002"),
              "other_officer": user("+84900000003"), "citizen": user("+84910000001")}
    leader = user("+84900000004")
    made = build_mix(Clock(monkeypatch), people)
    assert made["reopened-today"].state == "reopened" and made["reopened-today"].resolve_due < timezone.now()
    assert made["extended"].resolve_due > timezone.now()

    agg.refresh_all()  # what the beat's refresh does, from scratch
    expected = overdue_from_events(timezone.now())
    by_hand = {made[name].code for name, *_rest, late in MIX if late}
    # the event trail and the hand-made table agree (and nothing else of the province is late)
    assert expected == by_hand and len(by_hand) == 7

    client.force_login(leader)
    # the IOC wall's counter
    state = client.get(f"/api/v1/ioc/state/?province={PROVINCE}").json()
    assert state["counters"]["overdue"] == len(expected)
    # the dashboard: the province's figures and the national ones filtered to it (roll-up)
    assert client.get(f"/api/v1/stats/province/{PROVINCE}/").json()["figures"]["overdue"] == len(expected)
    assert client.get(f"/api/v1/stats/?province={PROVINCE}").json()["figures"]["overdue"] == len(expected)
    by_province = client.get("/api/v1/stats/by/province/").json()["rows"]
    assert next(r for r in by_province if r["key"] == PROVINCE)["overdue"] == len(expected)
    # the ranking (every unit, ranked or not yet, and the reports no unit holds yet)
    ranking = client.get(f"/api/v1/stats/ranking/?province={PROVINCE}&min=0").json()
    assert ranking["unassigned"]["overdue"] == 1
    assert sum(e["overdue"] for e in ranking["ranked"] + ranking["unranked"]) + 1 == len(expected)
    page = client.get(f"/xep-hang/?province={PROVINCE}").content.decode()
    assert 'class="unassigned"' in page
    # the overdue layer of the wall: exactly these reports
    layer = client.get(f"/api/v1/heatmaps/overdue/?province={PROVINCE}").json()
    assert {f["properties"]["code"] for f in layer["features"]} == expected
    kinds = {f["properties"]["code"]: f["properties"]["overdue"] for f in layer["features"]}
    assert kinds[made["late-forward-1"].code] == "forward"
    assert kinds[made["late-resolve-in-progress"].code] == "resolve"
    assert kinds[made["reopened-long-ago"].code] == "forward"
    # the exports of the planners' map
    gj = client.get(f"/api/v1/heatmaps/export.geojson?bbox={QN_BBOX}&province={PROVINCE}").json()
    assert {f["properties"]["code"] for f in gj["features"] if f["properties"]["overdue"]} == expected
    body = client.get(f"/api/v1/heatmaps/export.csv?bbox={QN_BBOX}&province={PROVINCE}").content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert {r["code"] for r in rows if r["overdue"] == "True"} == expected
    # the grid roll-up behind the map's bins and heat
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT coalesce(sum(overdue), 0) FROM heatmaps_gridrollup WHERE level = %s AND province_code = %s",
                    [agg.conf("HEATMAP_MIN_LEVEL"), PROVINCE])
        assert cur.fetchone()[0] == len(expected)
    # the per-area counts (choropleth)
    communes = agg.area_counts("vn-2025", "commune", agg.Filters(province=PROVINCE), parent_code=PROVINCE)
    assert sum(c["overdue"] for c in communes) == len(expected)
