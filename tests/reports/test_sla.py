"""Deadlines in working days of the Vietnamese calendar."""

import datetime as dt

import pytest

from fixtures.holidays import seed_holidays, vietnam_calendar
from reports import sla
from reports.models import Category, Holiday

TZ = sla.LOCAL_TZ
pytestmark = pytest.mark.django_db


def local(*args):
    return dt.datetime(*args, tzinfo=TZ)


def test_calendar_has_tet_2026_hung_kings_and_national_days():
    days = {d: (name, working) for d, name, working in vietnam_calendar()}
    # Tết Bính Ngọ: Mon 16/2 (eve) .. Fri 20/2/2026 are days off.
    for day in range(16, 21):
        assert days[dt.date(2026, 2, day)][1] is False
    assert dt.date(2026, 4, 27) in days  # Giỗ Tổ Hùng Vương 10/3 lunar falls on Sunday 26/4 → Monday off
    assert dt.date(2026, 4, 30) in days and dt.date(2026, 5, 1) in days and dt.date(2026, 9, 2) in days
    # 2025: Friday 2/5 off, paid back by working Saturday 26/4.
    assert days[dt.date(2025, 4, 26)][1] is True
    assert Holiday.objects.filter(date=dt.date(2026, 2, 17), is_working_day=False).exists()


def test_seed_holidays_is_idempotent_and_keeps_admin_edits():
    before = Holiday.objects.count()
    Holiday.objects.filter(date=dt.date(2026, 2, 17)).update(name="Mùng 1 Tết (sửa bởi quản trị)")
    assert seed_holidays() == 0
    assert Holiday.objects.count() == before
    assert Holiday.objects.get(date=dt.date(2026, 2, 17)).name == "Mùng 1 Tết (sửa bởi quản trị)"


def test_forward_deadline_across_tet_2026():
    # Received Friday 13/2/2026 10:00. Sat 14, Sun 15: weekend; Mon 16 (Giao thừa),
    # Tue 17 (Mùng 1), Wed 18 (Mùng 2), Thu 19 (Mùng 3), Fri 20 (Mùng 4): Tết;
    # Sat 21, Sun 22: weekend. The first working day after is Monday 23/2.
    due = sla.add_working_days(local(2026, 2, 13, 10, 0), 1)
    assert due.astimezone(TZ) == local(2026, 2, 23, 10, 0)


def test_resolve_deadline_after_tet_and_a_weekend():
    # Forwarded Thursday 12/2/2026 15:30; 5 working days: Fri 13 (1), [14–22 weekend + Tết],
    # Mon 23 (2), Tue 24 (3), Wed 25 (4), Thu 26 (5) → Thursday 26/2 15:30.
    due = sla.add_working_days(local(2026, 2, 12, 15, 30), 5)
    assert due.astimezone(TZ) == local(2026, 2, 26, 15, 30)


def test_received_on_a_weekend_starts_next_working_morning():
    # Saturday 7/3/2026 21:00 → the clock starts Monday 9/3 08:00; 1 working day → Tuesday 10/3 08:00.
    due = sla.add_working_days(local(2026, 3, 7, 21, 0), 1)
    assert due.astimezone(TZ) == local(2026, 3, 10, 8, 0)
    # Friday 6/3 16:00 + 1 → Monday 9/3 16:00 (the weekend does not count).
    assert sla.add_working_days(local(2026, 3, 6, 16, 0), 1).astimezone(TZ) == local(2026, 3, 9, 16, 0)


def test_worked_saturday_and_admin_added_holiday_count():
    # Saturday 22/8/2026 is worked (in exchange for Monday 31/8). Friday 21/8 10:00 + 1 → Sat 22/8 10:00.
    assert sla.add_working_days(local(2026, 8, 21, 10, 0), 1).astimezone(TZ) == local(2026, 8, 22, 10, 0)
    # 2/9 National Day: Tue 1/9 and Wed 2/9 off, Mon 31/8 off: Fri 28/8 + 1 → Thu 3/9.
    assert sla.add_working_days(local(2026, 8, 28, 9, 0), 1).astimezone(TZ) == local(2026, 9, 3, 9, 0)
    # An admin adds a provincial day off on Monday 16/3/2026.
    Holiday.objects.create(date=dt.date(2026, 3, 16), name="Nghỉ theo quyết định của tỉnh")
    assert sla.add_working_days(local(2026, 3, 13, 9, 0), 1).astimezone(TZ) == local(2026, 3, 17, 9, 0)


def test_due_is_stored_in_utc():
    due = sla.add_working_days(local(2026, 3, 9, 10, 0), 1)
    assert due.utcoffset() == dt.timedelta(0)
    assert due == dt.datetime(2026, 3, 10, 3, 0, tzinfo=dt.UTC)


def test_category_overrides_and_group_fallback():
    group = Category.objects.create(code="t-group", name="Nhóm thử", resolve_days=10)
    leaf = Category.objects.create(code="t-leaf", name="Lá thử", parent=group, forward_days=2)
    plain = Category.objects.create(code="t-plain", name="Không ghi đè")
    assert (sla.forward_days(leaf), sla.resolve_days(leaf)) == (2, 10)
    assert (sla.forward_days(plain), sla.resolve_days(plain)) == (1, 5)
    # Monday 9/3/2026 9:00 + 10 working days → Monday 23/3 9:00.
    assert sla.resolve_due(leaf, local(2026, 3, 9, 9, 0)).astimezone(TZ) == local(2026, 3, 23, 9, 0)


def test_is_overdue_in_short():
    """The full table of overdue cases is tests/reports/test_policy.py."""
    from reports import policy
    from reports.models import Report

    now = local(2026, 3, 10, 12, 0)
    r = Report(state="received", forward_due=local(2026, 3, 10, 11, 0))
    assert policy.is_overdue(r, now) and policy.overdue_kind(r, now) == "forward"
    r.state = "in_progress"
    r.resolve_due = local(2026, 3, 11, 11, 0)
    assert not policy.is_overdue(r, now)
    r.state = "published"
    r.resolve_due = local(2026, 3, 1)
    assert not policy.is_overdue(r, now)
