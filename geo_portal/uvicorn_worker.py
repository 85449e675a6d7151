"""The gunicorn worker class of scripts/run (geo_portal/gunicorn_conf.py): uvicorn, with
uvloop and httptools when installed, and WITHOUT uvicorn's X-Forwarded-For handling:
the client address Django sees is the socket's, as it was under gunicorn's own workers.
(uvicorn would otherwise trust the header from 127.0.0.1, and any local client could
choose the address the per-IP rate limits count.)"""

import gc

from uvicorn_worker import UvicornWorker


class Worker(UvicornWorker):
    CONFIG_KWARGS = {**UvicornWorker.CONFIG_KWARGS, "proxy_headers": False}

    def load_wsgi(self):
        super().load_wsgi()
        # Django, GeoDjango and DRF leave ~300,000 long-lived objects behind at start-up;
        # every full collection would walk them again in the middle of a request. Frozen,
        # the collector only looks at what requests allocate (the p99 of short requests).
        gc.collect()
        gc.freeze()
