"""Shared test set-up: real PostGIS, real boundary data, a real browser.

The session's test database is migrated once and loaded once with the test data set
(fixtures.demo.load_test_data: the four provinces' 2025 communes, their pre-2025
communes and districts, the succession table, Boston's wards, categories, authorities,
routing rules, holidays). Each test then runs inside a transaction that is rolled back.

Browser tests use ``live_url``: a live server whose request thread shares the test's
own database connection (and so its transaction), serving one request at a time. What
a test creates through the browser is rolled back with the test, and the loaded
boundaries are never flushed.
"""

import os
import threading

import pytest
from django.core import signals
from django.core.servers.basehttp import WSGIServer
from django.db import close_old_connections, connections
from django.test.testcases import LiveServerThread, QuietWSGIRequestHandler

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from fixtures.demo import load_test_data

    with django_db_blocker.unblock():
        load_test_data()
    # Uploads blur faces (reports/blur.py): its model file, put there by scripts/setup.sh
    # (fetched only when missing).
    from reports import blur

    blur.fetch_model()


@pytest.fixture(autouse=True)
def _own_cache_namespace(settings):
    """Each test counts in its own namespace of the real (Redis) cache: rate-limit
    counters and lockouts of one test, or of an earlier run, never reach another."""
    import uuid

    caches = {name: dict(conf) for name, conf in settings.CACHES.items()}
    for conf in caches.values():
        conf["KEY_PREFIX"] = f"{conf.get('KEY_PREFIX', '')}:t-{uuid.uuid4().hex[:12]}"
    settings.CACHES = caches


# --- live server sharing the test transaction ------------------------------------


class _SerialWSGIServer(WSGIServer):
    """One request at a time: the shared connection is never used by two threads at once."""

    # The running test's connection (set by live_url): each request uses it, so what the
    # browser writes is inside the test's transaction and rolled back with it.
    shared_connection = None

    def __init__(self, *args, connections_override=None, **kwargs):
        super().__init__(*args, **kwargs)
        # Held while a request runs on the shared connection: the test's teardown takes it
        # before the transaction is rolled back (a page's last request — a wall's stream
        # reconnecting — may still be running then).
        self.busy = threading.Lock()

    def process_request(self, request, client_address):
        with self.busy:
            shared = self.shared_connection
            if shared is None:
                return super().process_request(request, client_address)
            own = connections["default"]
            connections["default"] = shared
            try:
                super().process_request(request, client_address)
            finally:
                connections["default"] = own


class _SharedConnectionLiveServer(LiveServerThread):
    server_class = _SerialWSGIServer

    def _create_server(self, connections_override=None):
        return self.server_class((self.host, self.port), QuietWSGIRequestHandler, allow_reuse_address=False)


@pytest.fixture(scope="session")
def _live_server_thread(django_db_setup, django_db_blocker):
    from django.contrib.staticfiles.handlers import StaticFilesHandler

    with django_db_blocker.unblock():
        conn = connections["default"]
        conn.ensure_connection()
        conn.inc_thread_sharing()
        # Like Django's test client: a request must not close the connection that
        # holds the test's transaction.
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        thread = _SharedConnectionLiveServer("127.0.0.1", StaticFilesHandler, connections_override={"default": conn})
        thread.daemon = True
        thread.start()
        thread.is_ready.wait()
        if thread.error:
            raise thread.error
        yield thread
        thread.httpd.shutdown()
        thread.httpd.server_close()
        conn.dec_thread_sharing()
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def live_url(_live_server_thread, db, settings):
    settings.ALLOWED_HOSTS = ["*"]
    # The connection that holds THIS test's transaction (the session fixture's may be
    # another object: a fixture's context does not always reach the test's), and no
    # close_old_connections (the test client reconnects it after each of its requests).
    conn = connections["default"]
    conn.inc_thread_sharing()
    _live_server_thread.httpd.shared_connection = conn
    reconnect = [s for s in (signals.request_started, signals.request_finished) if s.disconnect(close_old_connections)]
    yield f"http://127.0.0.1:{_live_server_thread.port}"
    for s in reconnect:
        s.connect(close_old_connections)
    with _live_server_thread.httpd.busy:
        _live_server_thread.httpd.shared_connection = None
    conn.dec_thread_sharing()


# --- headless Chromium -----------------------------------------------------------


def pytest_collection_modifyitems(session, config, items):
    """Browser tests run last: Playwright's sync API leaves an event loop in the main
    thread for the rest of the session, which async tests (the ASGI checks) cannot share."""
    items.sort(key=lambda item: "/e2e/" in str(item.path))


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in the main thread for the rest of the
    # session: without this every later (synchronous) ORM call in any test would raise
    # SynchronousOnlyOperation.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="vi-VN", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()
