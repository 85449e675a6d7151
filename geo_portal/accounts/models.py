"""People. Sign-in is by phone number and a one-time code; e-mail is optional.

Which authority or province a staff member acts for lives in ``reports`` (StaffRole),
because roles are about handling reports and this app must not know of authorities.
"""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    # Normalised E.164 (+84…); null for staff created with a username only.
    phone = models.CharField(_("số điện thoại"), max_length=20, unique=True, null=True, blank=True)
    display_name = models.CharField(_("tên hiển thị"), max_length=120, blank=True)
    preferred_language = models.CharField(_("ngôn ngữ"), max_length=8, default="vi")

    def __str__(self):
        return self.display_name or self.phone or self.username


class OneTimeCode(models.Model):
    """A sign-in code sent by SMS. Only its hash is stored."""

    phone = models.CharField(max_length=20, db_index=True)
    code_hash = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["phone", "-created_at"])]
