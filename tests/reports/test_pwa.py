"""The installable intake's service worker, manifest and offline page, as a browser
fetches them: the worker is served at the site root with the headers that let it control
the whole site and be checked on every visit; it precaches the app shell under the very
URLs the intake page uses (also when static names are content-hashed), each file
existing with the revision of its bytes; the manifest makes the intake installable."""

import hashlib
import io
import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import StaticFilesStorage
from django.test import Client
from PIL import Image

pytestmark = pytest.mark.django_db


class FakeHashedStorage(StaticFilesStorage):
    """Names like ManifestStaticFilesStorage's (name.<hash>.ext) without a collectstatic."""

    def url(self, name):
        stem, dot, ext = name.rpartition(".")
        return super().url(f"{stem}.0badc0ffee{dot}{ext}" if dot else name)


def precache(text):
    return {m.group(1): m.group(2) for m in re.finditer(r'\{url:"([^"]+)",revision:"(\w+)"\}', text)}


def page_assets(html):
    """The same-origin scripts and stylesheets the page loads."""
    return set(re.findall(r'<script src="(/[^"]+)"', html)) | set(re.findall(r'<link rel="stylesheet" href="(/[^"]+)"',
                                                                              html))


def test_service_worker_is_served_for_the_whole_site_and_rechecked_on_every_visit():
    r = Client().get("/sw.js")
    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/javascript")
    assert r["Service-Worker-Allowed"] == "/"
    assert r["Cache-Control"] == "no-cache"
    text = r.content.decode()
    assert "__STATIC__" not in text
    assert 'importScripts("/static/reports/intake-outbox.js","/static/reports/outbox-sync-sw.js")' in text
    assert Client().post("/sw.js").status_code == 405


# The app shell (hand-written): what the intake needs to open with no network.
SHELL = ["css/site.css", "vendor/leaflet/leaflet.js", "vendor/leaflet/leaflet.css", "reports/intake.js",
         "reports/intake-outbox.js", "reports/offline-intake.js", "vendor/workbox-window.prod.umd.js",
         "vendor/leaflet/images/marker-icon.png"]


def test_precache_holds_the_shell_and_the_offline_page_with_the_revision_of_their_bytes():
    entries = precache(Client().get("/sw.js").content.decode())
    for name in SHELL:
        url = f"/static/{name}"
        assert url in entries, name
        with open(finders.find(name), "rb") as f:
            assert entries[url] == hashlib.md5(f.read()).hexdigest(), name
    assert "/ngoai-tuyen/" in entries
    for url in entries:
        if url.startswith("/static/"):
            assert finders.find(url.removeprefix("/static/")), f"{url} does not exist"


@pytest.mark.parametrize("storage", ["django.contrib.staticfiles.storage.StaticFilesStorage",
                                     f"{__name__}.FakeHashedStorage"])
def test_worker_caches_the_urls_the_intake_page_uses(settings, storage):
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": storage}}
    client = Client()
    page = client.get("/phan-anh/moi/").content.decode()
    worker = client.get("/sw.js").content.decode()
    entries = precache(worker)
    assets = page_assets(page)
    shell_urls = {a for a in assets if any(a.startswith(f"/static/{n.rsplit('.', 1)[0]}.") for n in SHELL)}
    # site.css, leaflet.js and .css, intake.js, workbox-window, intake-outbox.js, offline-intake.js
    assert len(shell_urls) == 7
    assert shell_urls <= set(entries)
    if storage.endswith("FakeHashedStorage"):
        assert "/static/reports/intake.0badc0ffee.js" in entries
        assert '"/static/reports/intake-outbox.0badc0ffee.js"' in worker  # importScripts too


def test_manifest_makes_the_intake_installable():
    r = Client().get("/manifest.webmanifest")
    assert r.status_code == 200
    assert r["Content-Type"] == "application/manifest+json"
    m = json.loads(r.content)
    assert m["name"] == "Phản ánh hiện trường"
    assert m["start_url"] == "/phan-anh/moi/" and m["scope"] == "/"
    assert m["display"] == "standalone"
    assert m["theme_color"] == "#0b3d6e"
    sizes = set()
    for icon in m["icons"]:
        path = finders.find(icon["src"].removeprefix("/static/"))
        with open(path, "rb") as f:
            img = Image.open(io.BytesIO(f.read()))
        assert img.format == "PNG" and icon["type"] == "image/png"
        assert f"{img.width}x{img.height}" == icon["sizes"]
        sizes.add((icon["sizes"], icon["purpose"]))
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes


@pytest.mark.parametrize("path", ["/phan-anh/moi/", "/phan-anh/", "/ngoai-tuyen/"])
def test_pages_link_the_manifest_and_theme_colour(path):
    html = Client().get(path).content.decode()
    assert '<link rel="manifest" href="/manifest.webmanifest">' in html
    assert '<meta name="theme-color" content="#0b3d6e">' in html


@pytest.mark.parametrize("language, title", [("vi", "Không có kết nối mạng"), ("en", "No network connection")])
def test_offline_page_in_the_chosen_language(settings, language, title):
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    r = client.get("/ngoai-tuyen/")
    assert r.status_code == 200
    assert f"<h1>{title}</h1>" in r.content.decode()
    assert 'href="/phan-anh/moi/"' in r.content.decode()


def test_intake_page_has_the_outbox_and_progress_bar_and_loads_the_offline_scripts():
    html = Client().get("/phan-anh/moi/").content.decode()
    assert 'id="outbox-panel"' in html and 'id="upload-progress"' in html
    order = [html.index(s) for s in ("reports/intake.js", "vendor/workbox-window.prod.umd.js",
                                      "reports/intake-outbox.js", "reports/offline-intake.js")]
    assert order == sorted(order)  # offline-intake.js uses the other three
    config = json.loads(re.search(r'id="intake-config" type="application/json">(.*?)</script>', html).group(1))
    assert config["swUrl"] == "/sw.js"
    assert config["i18n"]["queued"] == "Đã lưu, sẽ gửi khi có mạng."
