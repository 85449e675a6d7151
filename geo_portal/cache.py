"""Django's Redis cache with one connection pool per server and process.

Django keeps a cache object per thread and per asynchronous context, and each object
makes its own connection pool: served by uvicorn workers (ASGI), every request is a new
context, so every request that touched the cache opened a new TCP connection to Redis
and dropped it (438 new connections for 430 tile requests, bench note in README
"Tiles"). A tile request that missed the cache spent more on that than on reading its
stored tile. Here the pools live in the process and every cache object uses them; a
forked worker gets its own (redis-py's pool checks the process id).

``aget`` and ``aset`` are asynchronous for real (redis.asyncio, one client per event
loop, on the primary server), with Django's keys and serializer: Django's own run the
synchronous client on a thread, and the lean ASGI path of tiles (heatmaps/tiles_lean.py)
paid ~0.3 ms of CPU a call for that hop and the client's work (bench note in README)."""

import asyncio
import threading
import weakref

from django.core.cache.backends import redis as django_redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT

_pools = {}
_lock = threading.Lock()


class SharedPoolClient(django_redis.RedisCacheClient):
    def _get_connection_pool(self, write):
        index = self._get_connection_pool_index(write)
        key = (self._servers[index], self._pool_class, repr(sorted(self._pool_options.items(), key=str)))
        pool = _pools.get(key)
        if pool is None:
            with _lock:
                pool = _pools.get(key)
                if pool is None:
                    pool = _pools[key] = self._pool_class.from_url(self._servers[index], **self._pool_options)
        return pool


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SharedPoolClient

    async def aget(self, key, default=None, version=None):
        key = self.make_and_validate_key(key, version=version)
        value = await _async_client(self._cache).get(key)
        return default if value is None else self._cache._serializer.loads(value)

    async def aset(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        client = _async_client(self._cache)
        timeout = self.get_backend_timeout(timeout)
        if timeout == 0:
            await client.delete(key)
        else:
            await client.set(key, self._cache._serializer.dumps(value), ex=timeout)


_async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> {server: client}


def _async_client(sync_client):
    """This event loop's redis.asyncio client of the cache's primary server (an asyncio
    connection belongs to the loop that opened it)."""
    import redis.asyncio

    clients = _async_clients.setdefault(asyncio.get_running_loop(), {})
    server = sync_client._servers[0]
    found = clients.get(server)
    if found is None:
        options = {k: v for k, v in sync_client._pool_options.items() if k != "parser_class"}
        found = clients[server] = redis.asyncio.Redis.from_url(server, **options)
    return found
