"""How the portal is served (scripts/run, and the benchmarks that serve it as scripts/run
does): ``gunicorn -c geo_portal/gunicorn_conf.py -b HOST:PORT geo_portal.asgi:application``.
One place for the worker class, the worker count and the time limits."""

import os
import socket

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geo_portal.settings")
from django.conf import settings  # noqa: E402 (the settings module only, not the apps)

worker_class = "geo_portal.uvicorn_worker.Worker"
workers = settings.WEB_WORKERS
# One listening socket, bound by the master; the workers take its connections least
# busy first (geo_portal/uvicorn_worker.py says why).
reuse_port = False
timeout = 120
graceful_timeout = 10
accesslog = "-"


def on_starting(server):
    """Refuse an address another server listens on. With SO_REUSEPORT a second portal
    started on the same port (another database, say) would bind too, and the kernel
    would share the connections between the two; without it the bind fails, as it did
    before. A probe bound without the option tells."""
    for address in server.cfg.address:
        if not isinstance(address, tuple):
            continue  # a Unix socket: gunicorn itself refuses one in use
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no server
            try:
                probe.bind(address[:2])
            except OSError as exc:
                raise SystemExit(f"{address[0]}:{address[1]} is in use by another server ({exc.strerror})") from None


def child_exit(server, worker):
    """The exited worker's slot in the table of open connections is free again."""
    from geo_portal.uvicorn_worker import release_slot

    release_slot(worker.age)
