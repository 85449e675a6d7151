"""The gunicorn worker class of scripts/run: uvicorn, with uvloop and httptools when
installed, and WITHOUT uvicorn's X-Forwarded-For handling: the client address Django
sees is the socket's, as it was under gunicorn's own workers. (uvicorn would otherwise
trust the header from 127.0.0.1, and any local client could choose the address the
per-IP rate limits count.)"""

from uvicorn_worker import UvicornWorker


class Worker(UvicornWorker):
    CONFIG_KWARGS = {**UvicornWorker.CONFIG_KWARGS, "proxy_headers": False}
