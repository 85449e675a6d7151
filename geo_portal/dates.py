"""The one range check for dates that filter lists, maps, statistics and exports.

A filter day becomes a local midnight and often "the next day's midnight": on
9999-12-31 that overflows Python's datetime, and year 1 at +07:00 is before year 1 in
UTC. Days outside settings.FILTER_DATE_MIN..FILTER_DATE_MAX are refused with a message
naming the range, before any arithmetic.
"""

import datetime as dt

from django.conf import settings
from django.utils.translation import gettext as _


def filter_date_bounds():
    return dt.date.fromisoformat(settings.FILTER_DATE_MIN), dt.date.fromisoformat(settings.FILTER_DATE_MAX)


def filter_date_error(day):
    """The translated reason ``day`` cannot be used as a filter, or None."""
    lo, hi = filter_date_bounds()
    if lo <= day <= hi:
        return None
    return _("Ngày phải trong khoảng %(lo)s đến %(hi)s.") % {"lo": lo.isoformat(), "hi": hi.isoformat()}
