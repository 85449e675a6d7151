"""Django's Redis cache with one connection pool per server and process.

Django keeps a cache object per thread and per asynchronous context, and each object
makes its own connection pool: served by uvicorn workers (ASGI), every request is a new
context, so every request that touched the cache opened a new TCP connection to Redis
and dropped it (438 new connections for 430 tile requests, bench note in README
"Tiles"). A tile request that missed the cache spent more on that than on reading its
stored tile. Here the pools live in the process and every cache object uses them; a
forked worker gets its own (redis-py's pool checks the process id)."""

import threading

from django.core.cache.backends import redis as django_redis

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
