"""Deadlines in working days of the calendar (the Holiday table).

The calendar: Monday–Friday are working days, except the dates in ``Holiday`` with
``is_working_day=False`` (public holidays, Tết, compensatory days off); a ``Holiday``
row with ``is_working_day=True`` makes a Saturday or Sunday a working day (the
Saturdays worked in exchange for a bridge day). ``fixtures.holidays.seed_holidays``
fills it from the ``holidays`` package; admins edit it.

The rule for a deadline of *n* working days (documented in the README too):

* counting is done in the local time of the report's jurisdiction (Asia/Ho_Chi_Minh;
  America/New_York for Boston) on its calendar (the Holiday rows of its ``calendar``
  key: "VN"; "US-MA" for Boston); no jurisdiction means Vietnam's;
* received on a working day: the deadline is the **same local time of day on the
  n-th working day after the day of receipt** (received Friday 10:00 with 1 working day
  → Monday 10:00, or later when Monday is a holiday);
* received on a day that is not a working day (weekend, holiday): the clock starts at
  the beginning of the next working day, ``WORKDAY_START`` (08:00), so the deadline is
  08:00 on the n-th working day after that day.

Stored due times are aware datetimes in UTC.
"""

import datetime as dt
import time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DEFAULT_CALENDAR = "VN"
WORKDAY_START = dt.time(8, 0)

_table_cache = {"at": 0.0, "rows": None}


def _holiday_rows(start, end, calendar=DEFAULT_CALENDAR):
    """[(date, is_working_day)] of one calendar of the Holiday table between two dates.
    Outside a transaction the whole table is kept in this process for
    CALENDAR_CACHE_SECONDS (default 60 s; an admin's edit clears it at once in the
    process that saves it)."""
    from django.db import connection

    from reports.models import Holiday

    ttl = settings.CALENDAR_CACHE_SECONDS
    if ttl <= 0 or connection.in_atomic_block:
        return list(Holiday.objects.filter(calendar=calendar, date__gte=start, date__lte=end)
                    .values_list("date", "is_working_day"))
    now = time.monotonic()
    if _table_cache["rows"] is None or now - _table_cache["at"] > ttl:
        _table_cache["rows"] = list(Holiday.objects.values_list("calendar", "date", "is_working_day"))
        _table_cache["at"] = now
    return [(d, w) for c, d, w in _table_cache["rows"] if c == calendar and start <= d <= end]


def clear_calendar_cache(**kwargs):
    _table_cache["rows"] = None


def calendar_of(jurisdiction):
    """(Holiday calendar key, time zone) of a jurisdiction; Vietnam's for None."""
    if jurisdiction is None:
        return DEFAULT_CALENDAR, LOCAL_TZ
    return jurisdiction.calendar or DEFAULT_CALENDAR, ZoneInfo(jurisdiction.time_zone or "Asia/Ho_Chi_Minh")


def zone_of_province_code(province_code):
    """The time zone a report's times are shown in: its jurisdiction's (Boston's records,
    "US-MA-BOS": America/New_York), Vietnam's for every Vietnamese province. Kept per
    process with the jurisdictions' other look-ups (a minute)."""
    from boundaries import jurisdictions

    code = province_code or ""
    if code not in jurisdictions.foreign_codes():
        return LOCAL_TZ
    found = jurisdictions.for_province_code(code)
    try:
        return ZoneInfo(found.time_zone) if found is not None and found.time_zone else LOCAL_TZ
    except (KeyError, ValueError):
        return LOCAL_TZ


class Calendar:
    """Working days between two dates of one calendar, from one query of the Holiday table."""

    def __init__(self, start: dt.date, end: dt.date, calendar: str = DEFAULT_CALENDAR):
        self.start, self.end, self.calendar = start, end, calendar
        self.days_off = set()
        self.extra_working = set()
        for day, working in _holiday_rows(start, end, calendar):
            (self.extra_working if working else self.days_off).add(day)

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.extra_working:
            return True
        if day in self.days_off:
            return False
        return day.weekday() < 5


def is_working_day(day: dt.date, jurisdiction=None) -> bool:
    return Calendar(day, day, calendar_of(jurisdiction)[0]).is_working_day(day)


def _local(moment, zone=LOCAL_TZ):
    if moment is None:
        moment = timezone.now()
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(zone)


def _add(local, n, cal, zone):
    day = local.date()
    clock = local.timetz().replace(tzinfo=None)
    if not cal.is_working_day(day):
        # The clock starts at the beginning of the next working day.
        clock = WORKDAY_START
        while not cal.is_working_day(day):
            day += dt.timedelta(days=1)
    counted = 0
    while counted < n:
        day += dt.timedelta(days=1)
        if cal.is_working_day(day):
            counted += 1
    due = dt.datetime.combine(day, clock, tzinfo=zone)
    return due.astimezone(dt.UTC)


def add_working_days(moment, n: int, jurisdiction=None):
    """``moment`` plus ``n`` working days by the rule above, on the jurisdiction's
    calendar and in its time zone; returns an aware datetime (UTC)."""
    key, zone = calendar_of(jurisdiction)
    local = _local(moment, zone)
    n = int(n)
    # Generous window: n working days never span more than 2n + 40 calendar days
    # (Tết is at most ~10 days off in a row).
    cal = Calendar(local.date() - dt.timedelta(days=1), local.date() + dt.timedelta(days=2 * n + 40), key)
    return _add(local, n, cal, zone)


def add_working_days_many(moments, n: int, jurisdiction=None):
    """add_working_days for many moments with one read of the calendar (an import)."""
    key, zone = calendar_of(jurisdiction)
    locals_ = [_local(m, zone) for m in moments]
    if not locals_:
        return []
    n = int(n)
    cal = Calendar(min(m.date() for m in locals_) - dt.timedelta(days=1),
                   max(m.date() for m in locals_) + dt.timedelta(days=2 * n + 40), key)
    return [_add(m, n, cal, zone) for m in locals_]


def _days(category, field, default):
    while category is not None:
        value = getattr(category, field)
        if value is not None:
            return value
        category = category.parent
    return default


def forward_days(category) -> int:
    return _days(category, "forward_days", settings.DEFAULT_FORWARD_WORKING_DAYS)


def resolve_days(category) -> int:
    return _days(category, "resolve_days", settings.DEFAULT_RESOLVE_WORKING_DAYS)


def forward_due(category, received_at, jurisdiction=None):
    """The desk forwards within 1 working day of receipt (or the category's override)."""
    return add_working_days(received_at, forward_days(category), jurisdiction)


def resolve_due(category, forwarded_at, jurisdiction=None):
    """The unit resolves within 5 working days of forwarding (or the category's override)."""
    return add_working_days(forwarded_at, resolve_days(category), jurisdiction)

