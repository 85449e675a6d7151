"""Uploaded media, served after an access check (reports.policy.access).

Django's static() helper serves MEDIA_ROOT to anyone and only with DEBUG on; here every
file is looked up among the stored public copies, thumbnails and unblurred originals
(MEDIA_ROOT/private/, the report's staff only) first. Behind nginx or
Apache the portal only decides, and the front server sends the bytes
(settings.MEDIA_ACCEL_REDIRECT_PREFIX / MEDIA_X_SENDFILE).
"""

import mimetypes
from pathlib import Path

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponse
from django.utils._os import safe_join
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _

from reports.models import Media
from reports.policy import access


def _file_path(name):
    if "\x00" in name:
        raise Http404(_("Không tìm thấy tệp."))
    try:
        full = Path(safe_join(settings.MEDIA_ROOT, name))
    except (SuspiciousFileOperation, ValueError) as exc:
        raise Http404(_("Không tìm thấy tệp.")) from exc
    if not full.is_file():
        raise Http404(_("Không tìm thấy tệp."))
    return full


def _viewer(request):
    """The signed-in user, or the owner of an API token (``Authorization: Token …``): the
    API's answers list media URLs that its token clients must be able to fetch."""
    if request.user.is_authenticated:
        return request.user
    from rest_framework.authentication import TokenAuthentication, get_authorization_header
    from rest_framework.exceptions import AuthenticationFailed

    parts = get_authorization_header(request).split()
    if len(parts) == 2 and parts[0].lower() == b"token":
        try:
            return TokenAuthentication().authenticate_credentials(parts[1].decode("latin-1"))[0]
        except AuthenticationFailed:
            pass
    return request.user


def serve_media(request, path):
    full = _file_path(path)
    media = (Media.objects.filter(Q(file=path) | Q(thumbnail=path) | Q(original=path))
             .select_related("report").first())
    is_original = media is not None and media.original.name == path
    user = _viewer(request)
    if media is None:
        allowed = access.can_view_unlisted_media(user)
    elif is_original:
        allowed = access.can_view_original(user, media)
    else:
        # its reporter's receipt link (?t=…) too, before the report is public
        allowed = access.can_view_media(user, media, access.receipt_token_of(request))
    if not allowed:
        # 404, not 403: the file's existence is not disclosed.
        raise Http404(_("Không tìm thấy tệp."))
    content_type = (media.content_type if media and media.file.name == path else None) or (
        mimetypes.guess_type(path)[0] or "application/octet-stream"
    )
    if settings.MEDIA_ACCEL_REDIRECT_PREFIX:
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = settings.MEDIA_ACCEL_REDIRECT_PREFIX.rstrip("/") + "/" + path
    elif settings.MEDIA_X_SENDFILE:
        response = HttpResponse(content_type=content_type)
        response["X-Sendfile"] = str(full)
    else:
        response = FileResponse(full.open("rb"), content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    public = media is not None and not is_original and access.can_view_media(None, media)
    if public:
        # A public copy never changes under its name (a new upload gets a new name).
        patch_cache_control(response, public=True, max_age=3600)
    else:
        patch_cache_control(response, private=True, no_store=True)
    return response
