"""Agencies' own systems: outbound webhook endpoints, the outbox of messages, each
delivery to each endpoint with its attempts, and the inbound updates received."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from boundaries.models import Authority
from reports.models import Report


def new_message_id():
    return f"msg_{uuid.uuid4().hex}"


class WebhookEndpoint(models.Model):
    """An agency's receiving system: events about the reports of ``authority`` (and,
    with ``include_children``, of the authorities under it) are POSTed to ``url``."""

    authority = models.ForeignKey(Authority, on_delete=models.CASCADE, related_name="webhook_endpoints",
                                  verbose_name=_("cơ quan"))
    url = models.URLField(_("địa chỉ nhận (URL)"), max_length=500)
    description = models.CharField(_("mô tả"), max_length=200, blank=True)
    include_children = models.BooleanField(
        _("nhận cả phản ánh của đơn vị cấp dưới"), default=False,
        help_text=_("Ví dụ: hệ thống văn bản của tỉnh nhận mọi phản ánh chuyển cho các xã."))
    active = models.BooleanField(_("đang hoạt động"), default=True)
    disabled_reason = models.CharField(_("lý do ngừng"), max_length=300, blank=True)
    disabled_at = models.DateTimeField(_("ngừng lúc"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("điểm nhận webhook")
        verbose_name_plural = _("điểm nhận webhook")

    def __str__(self):
        return f"{self.authority.code} → {self.url}"

    def signing_secrets(self, now=None):
        """The secrets valid now, newest first: each signs every message while a key
        rotation is under way (the receiver accepts any one signature)."""
        now = now or timezone.now()
        return [s.secret for s in self.secrets.order_by("-created_at", "-id")
                if s.expires_at is None or s.expires_at > now]


class WebhookSecret(models.Model):
    """A signing key (``whsec_`` + base64). Rotation: add a new one and give the old
    one an expiry; until then both sign."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="secrets")
    secret = models.CharField(max_length=120)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(_("hết hạn lúc"), null=True, blank=True)

    class Meta:
        verbose_name = _("khóa ký")
        verbose_name_plural = _("khóa ký")

    def __str__(self):
        return f"{self.secret[:10]}…"


class WebhookMessage(models.Model):
    """One event to tell (the outbox row, written in the event's transaction); its id is
    the ``webhook-id`` every delivery and retry of it carries (the receiver dedupes on it)."""

    id = models.CharField(primary_key=True, max_length=40, default=new_message_id, editable=False)
    type = models.CharField(max_length=40)
    report = models.ForeignKey(Report, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]
        verbose_name = _("tin webhook")
        verbose_name_plural = _("tin webhook")

    def __str__(self):
        return f"{self.type} {self.id}"


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Đang chờ gửi")
        DELIVERED = "delivered", _("Đã nhận")
        DEAD = "dead", _("Thất bại (hết lượt thử)")
        DISABLED = "disabled", _("Điểm nhận đã ngừng")

    message = models.ForeignKey(WebhookMessage, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "endpoint"], name="webhook_delivery_once")]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
        verbose_name = _("lượt gửi webhook")
        verbose_name_plural = _("lượt gửi webhook")

    def __str__(self):
        return f"{self.message_id} → {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["at", "id"]


class InboundUpdate(models.Model):
    """An update an agency sent (signed webhook or token API): kept once per
    ``webhook-id`` so a replayed message is not applied twice."""

    authority = models.ForeignKey(Authority, on_delete=models.CASCADE, related_name="+")
    message_id = models.CharField(max_length=100)
    type = models.CharField(max_length=40)
    report = models.ForeignKey(Report, null=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["authority", "message_id"], name="inbound_update_once")]
