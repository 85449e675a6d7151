"""Finished vector tiles, cached server-side (the Django cache: Redis) and gzipped.

A tile's bytes depend on its layer, z/x/y, its filters, the roll-ups' data version
(ReportPoint and the grid roll-up change only in a refresh, which bumps it) and, for the
point layer, on who asks (reports.policy.access: a desk officer's tile holds their
province's unpublished reports). The key is all of these:

    (layer, z, x, y, the filter parameters sorted, refresh version, viewer's scope)

so a new refresh makes every older entry unreachable (they expire after
HEATMAP_TILE_CACHE_SECONDS) and one scope's tile is never served to another. The
"overdue" attribute is computed when the tile is rendered; the refresh also runs when
deadlines pass (refresh_incremental), which moves the version.

Entries hold the gzip of the tile (sent as is with ``Content-Encoding: gzip`` to clients
that accept it, decompressed for the others) and its ETag (a hash of the bytes: the
same tile under a new version keeps its ETag, so a client's revalidation still gets a
304). After each refresh that changed something, ``warm()`` renders the busiest tiles
of the busy zooms ahead for anonymous viewers (all time and the map's default month),
bounded in tiles and seconds.
"""

import gzip
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import connection

from heatmaps import aggregates as agg
from heatmaps import tiles

log = logging.getLogger(__name__)

# The parameters a tile reads (aggregates.Filters.from_params); any other (a cache
# buster, "v") does not change the tile and is left out of the key.
FILTER_PARAMS = ("start", "end", "month", "category", "state", "authority", "province", "jurisdiction")
WARM_LOCK = "tiles:warming"


@dataclass
class CachedTile:
    gz: bytes  # gzip of the MVT; b"" for an empty tile (204)
    etag: str
    layer: str
    count: int
    capped: tuple | None  # (shown, total points inside the tile)

    def body(self):
        return gzip.decompress(self.gz) if self.gz else b""


# How long a process trusts the version it read (seconds): a refresh in this process
# forgets it at once; in the other processes a new version shows within this.
VERSION_SECONDS = 1.0
_version = {"value": None, "until": 0.0}
# The hottest entries also stay in the process (bytes of gzip, least recently used out):
# a hit then costs no round trip at all, which under load is what a hit cost.
LOCAL_MAX_BYTES = 32 * 1024 * 1024
_local = OrderedDict()
_local_bytes = [0]
_lock = threading.Lock()


def refresh_version(data_version):
    """The roll-ups' part of agg.data_version() ("<refresh counter>-<last report change>"):
    what the tiles are made from. A new report alone changes no tile until the refresh."""
    return (data_version or "").split("-", 1)[0]


VERSION_SQL = "SELECT coalesce((SELECT data_version FROM heatmaps_refreshstate WHERE name = 'default'), 0)"


def _kept_version():
    return _version["value"] if _version["value"] is not None and time.monotonic() < _version["until"] else None


def _keep_version(value):
    _version.update(value=str(value), until=time.monotonic() + VERSION_SECONDS)
    return _version["value"]


def current_version():
    """The roll-ups' refresh counter: read from the database at most once a second per
    process (no round trip on a tile hit: under load every round trip waits for a core)."""
    value = _kept_version()
    if value is not None:
        return value
    with connection.cursor() as cur:
        cur.execute(VERSION_SQL)
        return _keep_version(cur.fetchone()[0])


async def acurrent_version(connect):
    """current_version on an asynchronous connection, taken with ``connect()`` (the lean
    ASGI path of tiles: geo_portal.async_db) only when the version must be read."""
    value = _kept_version()
    if value is not None:
        return value
    async with connect() as conn, conn.cursor() as cur:
        await cur.execute(VERSION_SQL, prepare=False)
        return _keep_version((await cur.fetchone())[0])


def version_moved():
    """A refresh moved the version (aggregates._bump_version: at once and on commit)."""
    _version.update(value=None, until=0.0)


def forget():
    """Drop what this process holds (tests: rolled-back data repeats versions)."""
    version_moved()
    with _lock:
        _local.clear()
        _local_bytes[0] = 0


def _local_key(cache_key):
    """None when the configured cache keeps nothing (a test's dummy cache); else the key
    within this cache's namespace (tests give each test its own)."""
    conf = settings.CACHES["default"]
    if conf["BACKEND"].endswith("DummyCache"):
        return None
    return (conf["BACKEND"], str(conf.get("LOCATION")), conf.get("KEY_PREFIX", ""), cache_key)


def _local_put(lkey, entry):
    with _lock:
        old = _local.pop(lkey, None)
        if old is not None:
            _local_bytes[0] -= len(old.gz)
        _local[lkey] = entry
        _local_bytes[0] += len(entry.gz)
        while _local_bytes[0] > LOCAL_MAX_BYTES and _local:
            _k, dropped = _local.popitem(last=False)
            _local_bytes[0] -= len(dropped.gz)


def scope_key(scope):
    if scope is None:
        return "all"
    return f"{scope.everything}|{scope.provinces}|{scope.authorities}|{scope.reporter_id}"


def normalised_params(params):
    """The filter parameters, sorted, empty ones left out: ``params`` is a QueryDict or
    a dict of value lists."""
    out = []
    for name in FILTER_PARAMS:
        values = params.getlist(name) if hasattr(params, "getlist") else params.get(name, [])
        out += [f"{name}={v}" for v in values if v != ""]
    return "&".join(out)


def key(layer, z, x, y, params, version, scope):
    """``scope`` is the viewer's reports.policy Scope for point tiles, None for bins
    (counts, the same for everyone)."""
    raw = f"{version}|{layer}|{z}/{x}/{y}|{normalised_params(params)}|{scope_key(scope)}"
    return "tiles:" + hashlib.sha1(raw.encode()).hexdigest()


def get_local(cache_key):
    """The entry kept in this process, or None."""
    lkey = _local_key(cache_key)
    if lkey is not None:
        with _lock:
            entry = _local.get(lkey)
            if entry is not None:
                _local.move_to_end(lkey)
                return entry
    return None


def get(cache_key):
    """The entry kept in this process, else in Redis (then kept here too), or None."""
    entry = get_local(cache_key)
    return entry if entry is not None else _get_shared(cache_key)


def _get_shared(cache_key):
    try:
        entry = cache.get(cache_key)
    except Exception:  # noqa: BLE001 - a cache outage must not break the map: render instead
        return _unavailable()
    return _kept_here(cache_key, entry)


def _kept_here(cache_key, entry):
    """``entry``, read from Redis (or None), also kept in this process."""
    lkey = _local_key(cache_key)
    if entry is not None and lkey is not None:
        _local_put(lkey, entry)
    return entry


def _unavailable():
    log.warning("tile cache unavailable", exc_info=True)


def put(cache_key, entry, shared=True):
    """Keep the entry in this process and, ``shared``, in Redis."""
    lkey = _local_key(cache_key)
    if lkey is not None:
        _local_put(lkey, entry)
    if not shared:
        return
    try:
        cache.set(cache_key, entry, agg.conf("HEATMAP_TILE_CACHE_SECONDS"))
    except Exception:  # noqa: BLE001
        _unavailable()


def _entry(t):
    # the gzip as sent (tiles.gzip_tile: the same bytes, the same gzip), also the ETag's
    return CachedTile(t.gz, hashlib.blake2b(t.gz, digest_size=10).hexdigest(), t.layer, t.count, t.capped)


def render(layer, z, x, y, filters):
    """The tile as stored, or rendered: its cache entry."""
    return _entry(tiles.tile(layer, z, x, y, filters))


def lookup(cache_key, layer, z, x, y, filters_of):
    """(entry, where it came from) of a tile: "hit" (this process's copy, else Redis's),
    "stored" (a stored tile that answers the view: a query of the database instead of
    two round trips to Redis, a miss and a write, each waiting for a core under load;
    kept in this process only) or "miss" (rendered, kept in both). ``filters_of()``
    gives the view's Filters; called only when this process has no copy."""
    entry = get_local(cache_key)
    if entry is not None:
        return entry, "hit"
    filters = filters_of()
    t = tiles.stored_tile(layer, z, x, y, filters)
    if t is not None:
        entry = _entry(t)
        put(cache_key, entry, shared=False)
        return entry, "stored"
    entry = _get_shared(cache_key)
    if entry is not None:
        return entry, "hit"
    entry = _entry(tiles.rendered_tile(layer, z, x, y, filters))
    put(cache_key, entry)
    return entry, "miss"


async def alookup(connect, cache_key, z, x, y, filters):
    """lookup of a point tile on the event loop (the lean ASGI path), on an asynchronous
    connection taken with ``connect()`` when needed: the same steps in the same order
    (this process's copy, the stored tile, Redis, a render kept in both), the same
    answers."""
    entry = get_local(cache_key)
    if entry is not None:
        return entry, "hit"
    t = await tiles.astored_point_tile_of_view(connect, z, x, y, filters)
    if t is not None:
        entry = _entry(t)
        put(cache_key, entry, shared=False)
        return entry, "stored"
    entry = await _aget_shared(cache_key)
    if entry is not None:
        return entry, "hit"
    async with connect() as conn:
        t = await tiles.arendered_point_tile(conn, z, x, y, filters)
    entry = _entry(t)
    put(cache_key, entry, shared=False)
    try:
        await cache.aset(cache_key, entry, agg.conf("HEATMAP_TILE_CACHE_SECONDS"))
    except Exception:  # noqa: BLE001 - as put()
        _unavailable()
    return entry, "miss"


async def _aget_shared(cache_key):
    """_get_shared on the event loop."""
    try:
        entry = await cache.aget(cache_key)
    except Exception:  # noqa: BLE001 - as _get_shared
        return _unavailable()
    return _kept_here(cache_key, entry)


def busy_tiles(zooms, limit):
    """The tiles of ``zooms`` with the most points (all time), at most ``limit`` of each
    zoom: the busiest of every zoom, then the second of every zoom… (a time budget spent
    on the heavy z10 tiles alone would warm none of z12–z14). One pass over the points
    at the finest zoom, summed up."""
    zmax = max(zooms)
    half = agg.WORLD / 2
    size = agg.WORLD / 2**zmax
    with connection.cursor() as cur:
        cur.execute(
            """SELECT floor((ST_X(geom) + %s) / %s)::int, floor((%s - ST_Y(geom)) / %s)::int, count(*)
               FROM heatmaps_reportpoint GROUP BY 1, 2""",
            [half, size, half, size],
        )
        finest = cur.fetchall()
    out = []
    for z in sorted(zooms):
        shift = zmax - z
        counts = {}
        for x, y, n in finest:
            k = (x >> shift, y >> shift)
            counts[k] = counts.get(k, 0) + n
        ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:limit]
        out += [(rank, z, x, y) for rank, ((x, y), _n) in enumerate(ranked) if 0 <= x < 2**z and 0 <= y < 2**z]
    return [(z, x, y) for _rank, z, x, y in sorted(out)]


def warm(max_tiles=None, max_seconds=None):
    """Render the stored tiles of all time marked due, then ahead the busiest point tiles
    for anonymous viewers, all time and the map's default month (the newest month of the
    roll-ups), that are not cached yet. Returns the number rendered into the cache. One
    at a time (a cache lock): a refresh during a warm-up does not start a second one."""
    from reports.policy import access

    max_tiles = agg.conf("HEATMAP_TILE_WARM_MAX") if max_tiles is None else max_tiles
    max_seconds = agg.conf("HEATMAP_TILE_WARM_SECONDS") if max_seconds is None else max_seconds
    zooms = [z for z in agg.conf("HEATMAP_TILE_WARM_ZOOMS") if z >= tiles.points_zoom()]
    try:
        if not cache.add(WARM_LOCK, 1, int(max_seconds) + 30):
            return 0
    except Exception:  # noqa: BLE001
        return 0
    try:
        deadline = time.monotonic() + max_seconds
        # first the stored tiles of all time that the refresh marked due: they serve
        # every viewer of the map's all-time view, cached or not
        tiles.render_due_all_time_tiles(max_seconds=max_seconds)
        if not zooms or max_tiles <= 0:
            return 0
        version = current_version()
        scope = access.Scope()  # anonymous: the public states
        last = agg.rollup_months()["last"]
        param_sets = [{}] + ([{"month": [last.strftime("%Y-%m")]}] if last else [])
        done = 0
        for z, x, y in busy_tiles(zooms, max_tiles):
            for params in param_sets:
                if done >= max_tiles or time.monotonic() > deadline:
                    return done
                k = key("reports", z, x, y, params, version, scope)
                if get(k) is not None:
                    continue
                filters = agg.Filters.from_params({n: v[0] for n, v in params.items()})
                filters.scope = scope
                put(k, render("reports", z, x, y, filters))
                done += 1
        return done
    finally:
        try:
            cache.delete(WARM_LOCK)
        except Exception:  # noqa: BLE001
            pass
