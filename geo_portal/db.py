"""A stored time Python cannot hold must not take every page down with it.

PostgreSQL stores timestamps up to year 294276; Python's datetime stops at 9999, and
a time in the last hours of 9999 UTC overflows as soon as it is shown in Vietnam time
(+07:00). Before values were checked where they are written, one request could store
such a time (an extension "until 9999-12-31T23:59:59-12:00"); every page that loaded
the row then failed. This loader reads any time past LATEST (or 'infinity') as LATEST
and any time before EARLIEST (or '-infinity', BC) as EARLIEST, so the page renders
and staff can correct the value. Registered on each new connection (apps.py).
"""

import datetime as dt

import psycopg
from psycopg.pq import Format

LATEST = dt.datetime(9999, 12, 30, tzinfo=dt.UTC)
EARLIEST = dt.datetime(1, 1, 2, tzinfo=dt.UTC)


def clamped_loader(base):
    class ClampedTimestamptzLoader(base):
        def load(self, data):
            try:
                value = super().load(data)
            except psycopg.DataError:
                text = bytes(data)
                value = EARLIEST if text.startswith(b"-") or text.endswith(b"BC") else LATEST
                return value if self.timezone is None else value.astimezone(self.timezone)
            naive = (value.replace(tzinfo=None) if value.tzinfo is None
                     else value.astimezone(dt.UTC).replace(tzinfo=None))
            if naive > LATEST.replace(tzinfo=None):
                value = LATEST
            elif naive < EARLIEST.replace(tzinfo=None):
                value = EARLIEST
            else:
                return value
            return value if self.timezone is None else value.astimezone(self.timezone)

    return ClampedTimestamptzLoader


def register_clamped_times(sender, connection, **kwargs):
    if connection.vendor != "postgresql":
        return
    raw = connection.connection
    oid = psycopg.adapters.types["timestamptz"].oid
    base = raw.adapters.get_loader(oid, Format.TEXT)
    if base is None or getattr(base, "_clamped", False):
        return
    loader = clamped_loader(base)
    loader._clamped = True
    raw.adapters.register_loader("timestamptz", loader)


# psycopg prepares a statement by itself after this many executions: a count never
# reached, so nothing is prepared unasked while an explicit ``prepare=True`` works
# (with no threshold at all, as Django sets it for transaction poolers, it does not).
EXPLICIT_PREPARE_ONLY = 1_000_000


def prepared_raw_connection():
    """Django's psycopg connection (same transaction), able to run a statement with
    ``prepare=True``: PostgreSQL then plans it once per connection (settings:
    plan_cache_mode=force_generic_plan) instead of at every execution."""
    from django.db import connection

    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        raw.prepare_threshold = EXPLICIT_PREPARE_ONLY
    return raw
