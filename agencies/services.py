"""Managing endpoints (the admin and ``manage.py webhooks`` both call these)."""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from agencies import network, signing
from agencies.models import WebhookEndpoint, WebhookSecret


def add_endpoint(authority, url, description="", include_children=False):
    """Create an endpoint (its address checked: no private network) and its first
    secret. Returns (endpoint, secret)."""
    network.resolve_checked(url)
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(authority=authority, url=url, description=description,
                                                  include_children=include_children)
        secret = WebhookSecret.objects.create(endpoint=endpoint, secret=signing.new_secret())
    return endpoint, secret.secret


def rotate_secret(endpoint, overlap_hours=24):
    """A new secret; the current ones keep signing for ``overlap_hours`` more."""
    now = timezone.now()
    with transaction.atomic():
        endpoint.secrets.filter(expires_at__isnull=True).update(expires_at=now + dt.timedelta(hours=overlap_hours))
        secret = WebhookSecret.objects.create(endpoint=endpoint, secret=signing.new_secret())
    return secret.secret
