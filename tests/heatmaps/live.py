"""Browser tests of the heatmaps need data the live server can see.

tests/conftest.py means the live server to share the test's connection and
transaction; in this session the server thread's connection turned out to be another
one (the one captured when the session started, in autocommit), so rows a test writes
in its own transaction are invisible to the pages — and a roll-up refresh (TRUNCATE)
in the test's transaction blocks the server until the test ends. Until that is fixed,
``on_server_connection`` points the test's ORM at the server's connection, lets the
test write (committed), and deletes what it wrote afterwards, rebuilding the roll-ups.
When the connections are the same it does nothing.
"""

import pytest


@pytest.fixture
def on_server_connection(_live_server_thread, live_url):
    from django.db import connections

    from heatmaps import aggregates as agg
    from reports.models import Report

    mine = connections["default"]
    server = (_live_server_thread.connections_override or {}).get("default", mine)
    if server is mine:
        yield server
        return
    connections["default"] = server
    last = Report.objects.order_by("-id").values_list("id", flat=True).first() or 0
    try:
        yield server
    finally:
        Report.objects.filter(id__gt=last).delete()
        agg.refresh_all()
        connections["default"] = mine
