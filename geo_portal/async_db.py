"""A few asynchronous PostgreSQL connections per process, for the lean ASGI paths
(geo_portal/asgi.py: ``settings.ASGI_LEAN_PATHS``) that answer on the event loop without
Django's thread pool.

The connections use Django's default database settings (name, user, host, port, and the
``options`` of settings: ``plan_cache_mode=force_generic_plan`` …) in autocommit, so they
see what is committed, as Django's own connections outside a transaction do. They are
opened on first use, at most ``size`` of them (``settings.ASGI_LEAN_DB_CONNECTIONS``); a
request waits for a free one. A connection that failed is dropped and replaced.
"""

from __future__ import annotations

import asyncio
import contextlib

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS

from geo_portal.db import EXPLICIT_PREPARE_ONLY


def conninfo(alias=DEFAULT_DB_ALIAS) -> dict:
    db = settings.DATABASES[alias]
    kwargs = {"dbname": db["NAME"], "autocommit": True}
    kwargs["prepare_threshold"] = EXPLICIT_PREPARE_ONLY
    for key, name in (("USER", "user"), ("PASSWORD", "password"), ("HOST", "host"), ("PORT", "port")):
        if db.get(key):
            kwargs[name] = str(db[key])
    options = db.get("OPTIONS", {})
    if options.get("options"):
        kwargs["options"] = options["options"]
    if db.get("TIME_ZONE") or settings.USE_TZ:  # as Django's connections: timestamps in UTC
        kwargs["options"] = (kwargs.get("options", "") + " -c TimeZone=UTC").strip()
    return kwargs


class AsyncPool:
    def __init__(self, size):
        self.size = size
        self._idle: list[psycopg.AsyncConnection] = []
        self._open = 0
        self._freed = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def connection(self):
        conn = await self._take()
        ok = False
        try:
            yield conn
            ok = True
        finally:
            if ok and not conn.closed:
                self._idle.append(conn)
            else:
                self._open -= 1
                with contextlib.suppress(Exception):
                    await conn.close()
            async with self._freed:
                self._freed.notify()

    async def _take(self):
        while True:
            if self._idle:
                return self._idle.pop()
            if self._open < self.size:
                self._open += 1
                try:
                    return await psycopg.AsyncConnection.connect(**conninfo())
                except BaseException:
                    self._open -= 1
                    raise
            async with self._freed:
                await self._freed.wait_for(lambda: self._idle or self._open < self.size)

    async def close(self):
        while self._idle:
            conn = self._idle.pop()
            self._open -= 1
            with contextlib.suppress(Exception):
                await conn.close()


_pools: dict = {}


def pool() -> AsyncPool:
    """This event loop's pool (a connection belongs to the loop it was opened on)."""
    loop = asyncio.get_running_loop()
    found = _pools.get(loop)
    if found is None:
        found = _pools[loop] = AsyncPool(settings.ASGI_LEAN_DB_CONNECTIONS)
    return found


async def close_pools():
    """ASGI lifespan shutdown."""
    loop = asyncio.get_running_loop()
    found = _pools.pop(loop, None)
    if found is not None:
        await found.close()
