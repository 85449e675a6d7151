"""download_data: checksums of the data directory, fetching an original over HTTP with
its sha256 verified, and a clear failure offline. No internet: a local HTTP server
stands in for raw.githubusercontent.com."""

import functools
import http.server
import shutil
import threading

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from boundaries.management.commands.download_data import fetch, load_manifest, sync

WARDS = "boston-311/wards.geojson"


@pytest.fixture
def manifest():
    return {e["path"]: e for e in load_manifest()}


@pytest.fixture
def local_server(tmp_path):
    """Serves tmp_path/served over HTTP on 127.0.0.1."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_manifest_lists_every_file_of_our_data_directory_with_its_checksum(manifest):
    on_disk = {
        str(p.relative_to(settings.DATA_DIR))
        for p in settings.DATA_DIR.rglob("*")
        if p.is_file() and p.name != "README.md"
    }
    assert on_disk <= set(manifest)
    for entry in manifest.values():
        assert len(entry["sha256"]) == 64
        assert entry["kind"] in ("original", "derived")
        assert len(entry["source"]["commit"]) == 40
        if entry["kind"] == "original":
            assert (
                entry["url"].startswith("https://raw.githubusercontent.com/")
                and entry["source"]["commit"] in entry["url"]
            )
        else:
            assert entry["build"]
    # what we could check is honestly labelled: the 2025 layers are assembled files
    assert manifest["vn-boundaries/2025/wards_22_quang_ninh.geojson"]["kind"] == "derived"


def test_files_present_are_verified_and_a_modified_copy_is_caught(manifest, tmp_path):
    dest = tmp_path / "data"
    (dest / "boston-311").mkdir(parents=True)
    shutil.copy(settings.DATA_DIR / WARDS, dest / WARDS)
    [ok] = sync([manifest[WARDS]], dest, verify_only=True)
    assert ok.status == "ok"
    data = (dest / WARDS).read_bytes()
    (dest / WARDS).write_bytes(data.replace(b'"WARD": 5,', b'"WARD": 6,', 1))
    [bad] = sync([manifest[WARDS]], dest, verify_only=True)
    assert bad.status == "mismatch" and "sai checksum" in bad.message
    with pytest.raises(CommandError, match="1/1 tệp dữ liệu thiếu hoặc sai"):
        call_command("download_data", "--dest", str(dest), "--only", WARDS, "--verify-only")


def test_a_missing_original_is_downloaded_and_checked(manifest, local_server, tmp_path):
    root, base = local_server
    shutil.copy(settings.DATA_DIR / WARDS, root / "Wards.geojson")
    entry = dict(manifest[WARDS], url=f"{base}/Wards.geojson")
    dest = tmp_path / "data"
    out = fetch(entry, dest, timeout=5)
    assert out.status == "downloaded"
    assert (dest / WARDS).read_bytes() == (settings.DATA_DIR / WARDS).read_bytes()
    # the server now serves something else under the same name: refused, nothing kept
    (root / "Wards.geojson").write_bytes(b'{"type": "FeatureCollection", "features": []}')
    (dest / WARDS).unlink()
    out = fetch(entry, dest, timeout=5)
    assert out.status == "mismatch"
    assert not (dest / WARDS).exists()


def test_offline_gives_a_clear_error_and_a_non_zero_exit(manifest, tmp_path, local_server):
    _root, base = local_server
    entry = dict(manifest[WARDS], url="http://127.0.0.1:9/Wards.geojson")  # nothing listens on port 9
    out = fetch(entry, tmp_path / "data", timeout=2)
    assert out.status == "failed" and "không có mạng" in out.message
    derived = fetch(manifest["vn-boundaries/2025/wards_46_hue.geojson"], tmp_path / "data")
    assert derived.status == "missing-derived" and "thanglequoc/vietnamese-provinces-database" in derived.message
