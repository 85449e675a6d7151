"""Static files as production serves them: WhiteNoise, compressed, content-hashed names
(cached for a year by browsers) from the manifest that collectstatic writes.

A name missing from the manifest (collectstatic not run yet in this checkout, or run
before the file was added) is served under its plain name instead of failing the page
with a 500; WhiteNoise finds it in the app's static folder (WHITENOISE_USE_FINDERS)."""

import logging

from django.contrib.staticfiles.storage import StaticFilesStorage
from whitenoise.storage import CompressedManifestStaticFilesStorage

log = logging.getLogger(__name__)
_warned = set()


class ManifestStaticStorage(CompressedManifestStaticFilesStorage):
    manifest_strict = False
    # CSS url() references only: vendored JS names source maps that are not shipped
    # (leaflet.js.map), and rewriting JS would fail collectstatic on them.
    patterns = tuple(p for p in CompressedManifestStaticFilesStorage.patterns if p[0] != "*.js")

    def url(self, name, force=False):
        try:
            return super().url(name, force)
        except ValueError:
            if name not in _warned:  # once per process, not per page view
                _warned.add(name)
                log.warning("static file %s is not collected (run manage.py collectstatic): served unhashed",
                            name)
            return StaticFilesStorage.url(self, name)
