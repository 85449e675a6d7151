"""Which subscriptions an event concerns: one spatial SQL statement per scan.

Chosen hook: a periodic Celery task (``alerts.scan``, every minute) reads the report
events after a watermark, instead of a call inside ``reports.notify.on_event``. It
keeps reports unaware of this app, and it is robust: a crash between the state change
and the alert loses nothing (the next run picks the events up), and a rescan of the
last minutes (events whose transaction committed after a later id was seen) sends
nothing twice because the sent-log is unique per (subscription, report, kind).

An item is queued when an event
* moved a report into ``policy.PUBLIC`` from outside it ("new"), or
* moved it into ``policy.RESULT_PUBLIC`` from outside it ("resolved"),
the report is still in that group now, and the subscription was confirmed before the
event (no backfill of older news to a new subscriber).
"""

import datetime as dt

from django.db import connection, transaction

from alerts.models import ScanCursor
from alerts.subscriptions import MAX_RADIUS_M
from reports import policy

# Events committed out of id order (concurrent transactions) are caught by re-reading
# this much time before the watermark.
RESCAN = dt.timedelta(minutes=10)


def _category_match(alias_s, alias_r):
    # A subscription to a group of categories matches its children too.
    return (f"({alias_s}.category_id IS NULL OR {alias_s}.category_id = {alias_r}.category_id"
            f" OR {alias_s}.category_id = (SELECT c.parent_id FROM reports_category c WHERE c.id = "
            f"{alias_r}.category_id))")


def _places(alias_r):
    """A LATERAL subquery: the subscriptions whose place holds the report's point.
    Three branches, each able to use its index: the areas covering the point (GiST on
    the areas), drawn polygons (GiST on polygon::geography), circles (GiST on
    center::geography, probed with the largest radius, then each circle's own)."""
    return f"""(
        SELECT s.id, s.confirmed_at, s.unsubscribed_at, s.want_new, s.want_resolved, s.category_id
        FROM boundaries_area a JOIN alerts_areaalert s ON s.area_id = a.id
        WHERE ST_Covers(a.geom, {alias_r}.location)
      UNION ALL
        SELECT s.id, s.confirmed_at, s.unsubscribed_at, s.want_new, s.want_resolved, s.category_id
        FROM alerts_areaalert s
        WHERE s.polygon IS NOT NULL AND ST_Covers(s.polygon::geography, {alias_r}.location::geography)
      UNION ALL
        SELECT s.id, s.confirmed_at, s.unsubscribed_at, s.want_new, s.want_resolved, s.category_id
        FROM alerts_areaalert s
        WHERE s.center IS NOT NULL
          AND ST_DWithin(s.center::geography, {alias_r}.location::geography, {int(MAX_RADIUS_M)})
          AND ST_DWithin(s.center::geography, {alias_r}.location::geography, s.radius_m)
    )"""


QUEUE_SQL = f"""
WITH ev AS (
    SELECT e.id, e.report_id, e.created_at,
           CASE WHEN {policy.RESULT_PUBLIC.sql("e").replace("e.state", "e.to_state")}
                 AND NOT {policy.RESULT_PUBLIC.sql("e").replace("e.state", "e.from_state")} THEN 'resolved'
                WHEN {policy.PUBLIC.sql("e").replace("e.state", "e.to_state")}
                 AND NOT {policy.PUBLIC.sql("e").replace("e.state", "e.from_state")} THEN 'new'
           END AS kind
    FROM reports_reportevent e
    WHERE e.id > %(after)s OR e.created_at > %(since)s
), hits AS (
    SELECT DISTINCT ON (s.id, r.id, ev.kind) s.id AS subscription_id, r.id AS report_id, ev.kind, ev.created_at
    FROM ev
    JOIN reports_report r ON r.id = ev.report_id
    CROSS JOIN LATERAL {_places("r")} s
    WHERE ev.kind IS NOT NULL
      AND s.confirmed_at IS NOT NULL AND s.unsubscribed_at IS NULL AND s.confirmed_at <= ev.created_at
      AND ((ev.kind = 'new' AND s.want_new AND {policy.PUBLIC.sql("r")})
        OR (ev.kind = 'resolved' AND s.want_resolved AND {policy.RESULT_PUBLIC.sql("r")}))
      AND {_category_match("s", "r")}
    ORDER BY s.id, r.id, ev.kind, ev.created_at
)
INSERT INTO alerts_alertsent (subscription_id, report_id, kind, created_at, attempts, error)
SELECT subscription_id, report_id, kind, created_at, 0, '' FROM hits
ON CONFLICT (subscription_id, report_id, kind) DO NOTHING
RETURNING id
"""


def scan():
    """Queue the items of the events since the watermark; returns the new AlertSent ids."""
    with transaction.atomic():
        cursor, _ = ScanCursor.objects.select_for_update().get_or_create(name="events")
        with connection.cursor() as cur:
            cur.execute("SELECT COALESCE(MAX(id), 0), now() FROM reports_reportevent")
            top, now = cur.fetchone()
            cur.execute(QUEUE_SQL, {"after": cursor.last_event_id, "since": now - RESCAN})
            ids = [row[0] for row in cur.fetchall()]
        cursor.last_event_id = max(cursor.last_event_id, top)
        cursor.save(update_fields=["last_event_id", "updated_at"])
    return ids


def matching_subscription_ids(report, kind):
    """The active subscriptions a report matches now (for the tests and the admin):
    the same place and category test as the scan."""
    group = policy.PUBLIC if kind == "new" else policy.RESULT_PUBLIC
    want = "s.want_new" if kind == "new" else "s.want_resolved"
    sql = f"""
        SELECT DISTINCT s.id FROM reports_report r CROSS JOIN LATERAL {_places("r")} s
        WHERE r.id = %s AND s.confirmed_at IS NOT NULL AND s.unsubscribed_at IS NULL AND {want}
          AND {group.sql("r")} AND {_category_match("s", "r")}
        ORDER BY s.id"""
    with connection.cursor() as cur:
        cur.execute(sql, [report.pk])
        return [row[0] for row in cur.fetchall()]
