"""The Redis cache's asynchronous calls (geo_portal/cache.py: ``aget``, ``aset`` on
redis.asyncio) read and write the same entries as its synchronous ones, on the real
Redis: a tile one worker's event loop cached is the cache hit of another's Django view,
and the other way round."""

import asyncio
import time

import pytest
from django.core.cache import cache

from heatmaps.tile_cache import CachedTile

TILE = CachedTile(gz=b"\x1f\x8b tile", etag="abc", layer="reports", count=3, capped=(10, 12))


def run(coro):
    return asyncio.run(coro)


@pytest.mark.parametrize("value", [TILE, b"bytes", "chữ Việt", 7, {"a": [1, 2]}, None])
def test_what_the_event_loop_writes_the_synchronous_client_reads_and_back(value):
    run(cache.aset("k-async", value, 60))
    assert cache.get("k-async", "missing") == value
    cache.set("k-sync", value, 60)
    assert run(cache.aget("k-sync", "missing")) == value


def test_a_miss_gives_the_default_and_a_zero_timeout_deletes():
    assert run(cache.aget("never-written")) is None
    assert run(cache.aget("never-written", "default")) == "default"
    cache.set("k", TILE, 60)
    run(cache.aset("k", TILE, 0))
    assert cache.get("k") is None


def test_an_entry_written_on_the_event_loop_expires():
    run(cache.aset("short", TILE, 1))
    assert cache.get("short") == TILE
    time.sleep(1.2)
    assert cache.get("short") is None and run(cache.aget("short")) is None


def test_each_event_loop_has_its_own_client():
    """An asyncio connection belongs to the loop that opened it: a second loop (a second
    worker thread, or a test's asyncio.run) must not reuse the first one's."""
    for i in range(3):
        run(cache.aset(f"loop-{i}", i, 60))
    assert [cache.get(f"loop-{i}") for i in range(3)] == [0, 1, 2]
