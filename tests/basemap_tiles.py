"""Test basemaps made in the test: a small vector PMTiles archive in the Protomaps schema
(earth, water, roads) over Hạ Long, and a raster XYZ tile server on a local port.
No test reaches the internet."""

from __future__ import annotations

import io
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Hạ Long and around (lon/lat): Quảng Ninh's coast, where the demo's reports are.
HA_LONG_BBOX = (106.6, 20.6, 107.6, 21.4)
SEA_LAT = 20.93  # south of this: Hạ Long Bay (the "water" layer)
ROAD_LON, ROAD_LAT = 107.07, 20.96  # a north-south and an east-west "major_road"
EXTENT = 4096
RASTER_RGB = (255, 0, 255)  # magenta: no street map has it; easy to find on a screenshot


def lon_to_x(lon, z):
    return (lon + 180) / 360 * 2**z


def lat_to_y(lat, z):
    r = math.radians(lat)
    return (1 - math.asinh(math.tan(r)) / math.pi) / 2 * 2**z


def tiles_over(bbox, z):
    w, s, e, n = bbox
    for x in range(int(lon_to_x(w, z)), int(lon_to_x(e, z)) + 1):
        for y in range(int(lat_to_y(n, z)), int(lat_to_y(s, z)) + 1):
            yield x, y


def vector_tile(z, x, y) -> bytes:
    """One MVT tile: earth everywhere, water south of SEA_LAT, two major roads."""
    import mapbox_vector_tile
    from shapely.geometry import LineString, box

    def px(lon, lat):  # tile coordinates, y down
        return (lon_to_x(lon, z) - x) * EXTENT, (lat_to_y(lat, z) - y) * EXTENT

    whole = box(0, 0, EXTENT, EXTENT)
    layers = [{"name": "earth", "features": [{"geometry": whole, "properties": {"kind": "earth"}}]}]
    sea_y = px(0, SEA_LAT)[1]
    if sea_y < EXTENT:
        layers.append({"name": "water", "features": [
            {"geometry": box(0, max(0.0, sea_y), EXTENT, EXTENT), "properties": {"kind": "ocean"}}]})
    rx, _ = px(ROAD_LON, 0)
    _, ry = px(0, ROAD_LAT)
    roads = [LineString([(rx, -64), (rx, EXTENT + 64)]), LineString([(-64, ry), (EXTENT + 64, ry)])]
    roads = [r for r in roads if r.intersects(whole)]
    if roads:
        layers.append({"name": "roads", "features": [
            {"geometry": r, "properties": {"kind": "major_road", "min_zoom": 0}} for r in roads]})
    return mapbox_vector_tile.encode(layers, default_options={"y_coord_down": True, "extents": EXTENT})


def write_archive(path, bbox=HA_LONG_BBOX, max_zoom=12) -> int:
    """A PMTiles v3 archive of vector tiles over ``bbox`` at zooms 0..max_zoom; returns
    the number of tiles."""
    from pmtiles.tile import Compression, TileType, zxy_to_tileid
    from pmtiles.writer import Writer

    tiles = {}
    for z in range(max_zoom + 1):
        for x, y in tiles_over(bbox, z):
            tiles[zxy_to_tileid(z, x, y)] = vector_tile(z, x, y)
    with open(path, "wb") as fh:
        writer = Writer(fh)
        for tile_id in sorted(tiles):
            writer.write_tile(tile_id, tiles[tile_id])
        w, s, e, n = bbox
        writer.finalize(
            {
                "tile_type": TileType.MVT, "tile_compression": Compression.NONE,
                "min_zoom": 0, "max_zoom": max_zoom,
                "min_lon_e7": int(w * 1e7), "min_lat_e7": int(s * 1e7),
                "max_lon_e7": int(e * 1e7), "max_lat_e7": int(n * 1e7),
                "center_zoom": 10, "center_lon_e7": int(ROAD_LON * 1e7), "center_lat_e7": int(ROAD_LAT * 1e7),
            },
            {"vector_layers": [{"id": name, "fields": {"kind": "String"}} for name in ("earth", "water", "roads")]},
        )
    return len(tiles)


def raster_png(rgb=RASTER_RGB) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (256, 256), rgb).save(buf, format="PNG")
    return buf.getvalue()


class RasterTileServer:
    """http.server in a thread answering /{z}/{x}/{y}.png with a plain coloured PNG;
    ``requests`` lists the paths asked."""

    def __init__(self):
        png = raster_png()
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                outer.requests.append(self.path)
                parts = self.path.split("?")[0].strip("/").split("/")
                if len(parts) == 3 and parts[2].endswith(".png") and all(p.split(".")[0].isdigit() for p in parts):
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png")
                    self.send_header("Content-Length", str(len(png)))
                    self.end_headers()
                    self.wfile.write(png)
                else:
                    self.send_error(404)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.template = self.url + "/{z}/{x}/{y}.png"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
