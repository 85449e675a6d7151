"""What the Open311 interface stores beside the reports: the client applications'
API keys, the category-specific questions (service attributes) and, per request made
through it, its token, its client and the answers to the questions."""

import hashlib
import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from boundaries.models import Jurisdiction
from reports.models import Category, Report

KEY_PREFIX_LEN = 8


def hash_key(raw):
    # Keys are 32 random bytes: a plain SHA-256 is enough (no dictionary to guess from).
    return hashlib.sha256(str(raw).encode("utf-8", "surrogatepass")).hexdigest()


class ApiKey(models.Model):
    """One client application (a city's CRM, a mobile app). Only the key's hash is
    stored; the key is shown once when it is made. No jurisdictions: every one."""

    name = models.CharField(_("tên ứng dụng"), max_length=120)
    prefix = models.CharField(_("đầu khoá"), max_length=KEY_PREFIX_LEN, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    jurisdictions = models.ManyToManyField(Jurisdiction, blank=True, related_name="open311_keys",
                                           verbose_name=_("chỉ dùng cho vùng tài phán"))
    active = models.BooleanField(_("đang dùng"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("khoá API Open311")
        verbose_name_plural = _("khoá API Open311")

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    def set_new_key(self):
        """Give this key a fresh secret; returns it (the only time it is readable)."""
        raw = secrets.token_urlsafe(32)
        # A key starting with "-" reads as an option to `manage.py open311 keys revoke <prefix>`
        # (and to most shells' tools), so draw again until it starts with a letter or digit.
        while not raw[0].isalnum():
            raw = secrets.token_urlsafe(32)
        self.prefix = raw[:KEY_PREFIX_LEN]
        self.key_hash = hash_key(raw)
        return raw

    @classmethod
    def create(cls, name, jurisdictions=()):
        key = cls(name=name)
        raw = key.set_new_key()
        key.save()
        if jurisdictions:
            key.jurisdictions.set(jurisdictions)
        return key, raw

    @classmethod
    def find(cls, raw):
        if not raw:
            return None
        return cls.objects.filter(key_hash=hash_key(raw), active=True).first()

    def allows(self, jurisdiction):
        """May this key act in the jurisdiction (or a province of a country it holds)?"""
        allowed = set(self.jurisdictions.values_list("pk", flat=True))
        if not allowed:
            return True
        if jurisdiction is None:
            return False
        return jurisdiction.pk in allowed or (jurisdiction.parent_id is not None and jurisdiction.parent_id in allowed)


class ServiceAttribute(models.Model):
    """A category-specific question (GeoReport v2 "attribute")."""

    class Datatype(models.TextChoices):
        STRING = "string", _("chuỗi ngắn")
        NUMBER = "number", _("số")
        DATETIME = "datetime", _("ngày giờ")
        TEXT = "text", _("văn bản")
        SINGLE = "singlevaluelist", _("chọn một")
        MULTI = "multivaluelist", _("chọn nhiều")

    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="open311_attributes",
                                 verbose_name=_("lĩnh vực"))
    code = models.SlugField(_("mã"), max_length=60)
    # False: an informational line shown to the citizen, not a question.
    variable = models.BooleanField(_("là câu hỏi"), default=True)
    datatype = models.CharField(_("kiểu dữ liệu"), max_length=20, choices=Datatype.choices, default=Datatype.STRING)
    required = models.BooleanField(_("bắt buộc"), default=False)
    datatype_description = models.CharField(_("mô tả kiểu dữ liệu"), max_length=200, blank=True)
    order = models.PositiveSmallIntegerField(_("thứ tự"), default=1)
    description = models.CharField(_("câu hỏi"), max_length=300)
    # [{"key": "…", "name": "…"}] for the list datatypes
    values = models.JSONField(_("các lựa chọn"), default=list, blank=True)
    active = models.BooleanField(_("đang dùng"), default=True)

    class Meta:
        ordering = ["category", "order", "code"]
        verbose_name = _("câu hỏi theo lĩnh vực")
        verbose_name_plural = _("câu hỏi theo lĩnh vực")
        constraints = [models.UniqueConstraint(fields=["category", "code"], name="open311_attribute_unique_code")]

    def __str__(self):
        return f"{self.category.code}: {self.code}"

    def value_keys(self):
        return [str(v.get("key")) for v in self.values or [] if isinstance(v, dict)]

    def value_name(self, key):
        for v in self.values or []:
            if isinstance(v, dict) and str(v.get("key")) == str(key):
                return str(v.get("name") or key)
        return str(key)


def _new_token():
    return secrets.token_urlsafe(18)


class ServiceRequest(models.Model):
    """A report made through Open311: which client sent it, its token, its answers."""

    report = models.OneToOneField(Report, on_delete=models.CASCADE, related_name="open311")
    api_key = models.ForeignKey(ApiKey, null=True, on_delete=models.SET_NULL, related_name="requests")
    token = models.CharField(max_length=40, unique=True, default=_new_token)
    attributes = models.JSONField(default=dict, blank=True)
    device_id = models.CharField(max_length=200, blank=True)
    account_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("yêu cầu Open311")
        verbose_name_plural = _("yêu cầu Open311")
