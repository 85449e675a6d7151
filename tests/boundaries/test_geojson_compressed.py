"""The province layer the intake map loads is sent gzipped to browsers that accept it
(a phone on slow 3G downloads ~4× less), and is the same GeoJSON once unpacked."""

import gzip
import json

import pytest

URL = "/api/v1/boundaries/current/commune.geojson?province=22"


@pytest.mark.parametrize(("accept_encoding", "compressed"), [
    ("gzip, deflate, br", True),   # what Chromium sends
    ("", False),                   # a client that did not ask: plain JSON
])
def test_the_intake_layer_is_gzipped_for_browsers(db, client, accept_encoding, compressed):
    headers = {"HTTP_ACCEPT_ENCODING": accept_encoding} if accept_encoding else {}
    resp = client.get(URL, **headers)
    assert resp.status_code == 200
    assert (resp.get("Content-Encoding") == "gzip") is compressed
    assert "Accept-Encoding" in resp.get("Vary", "")  # a shared cache keeps both copies apart
    body = gzip.decompress(resp.content) if compressed else resp.content
    layer = json.loads(body)
    # Quảng Ninh's 54 communes of 2025 (the boundary data loaded for the tests).
    assert len(layer["features"]) == 54
    assert {f["properties"]["parent_code"] for f in layer["features"]} == {"22"}
    if compressed:
        assert len(resp.content) * 3 < len(body)
