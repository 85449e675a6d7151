"""Live report events: every report event is announced on PostgreSQL's NOTIFY channel
in the transaction that writes it, so listeners hear of it only once it is committed
(and never of a rolled-back one). The channel belongs to the database, so two
checkouts on one server never hear each other. heatmaps.live listens (one connection
per process) and feeds the IOC wall's streams.

The payload names the report and where it belongs (province, authority): a listener
decides who may see it without asking the database.
"""

import json

CHANNEL = "geo_portal_report_events"


def payload(report, action):
    return json.dumps({
        "id": report.pk,
        "action": action,
        "state": report.state,
        "province_code": report.province_code or "",
        "authority_id": report.authority_id,
    })


def publish(report, action):
    """NOTIFY the event inside the current transaction (delivered on commit)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_notify(%s, %s)", [CHANNEL, payload(report, action)])


def insert_notify_sql(returning_alias="r"):
    """A CTE body announcing the "receive" of the row(s) a data-modifying CTE inserted:
    the intake's one-statement insert carries its own NOTIFY (no extra round trip)."""
    from reports.policy.states import State

    a = returning_alias
    return (
        f"SELECT pg_notify('{CHANNEL}', json_build_object('id', {a}.id, 'action', 'receive', "
        f"'state', '{State.RECEIVED.value}', 'province_code', coalesce({a}.province_code, ''), "
        f"'authority_id', {a}.authority_id)::text) FROM {a}"
    )
