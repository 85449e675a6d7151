"""Sign-in by phone number and a one-time code sent by SMS.

request_code(phone, ip) sends a 6-digit code (only its hash is stored; valid 5
minutes; 5 attempts). Requests are rate-limited per phone (in the database) and per
client IP (in the cache). verify_code(phone, code) returns the user, created on the
first sign-in with username = the E.164 phone number.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta

import phonenumbers
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from geo_portal.accounts import signals
from geo_portal.accounts.models import OneTimeCode
from geo_portal.accounts.sms import send_sms

CODE_TTL = timedelta(minutes=5)
MAX_ATTEMPTS = 5
RATE_WINDOW = timedelta(minutes=10)
MAX_CODES_PER_PHONE = 3
MAX_CODES_PER_IP = 10


class RateLimited(ValidationError):
    """Too many codes asked for: the view answers 429."""


def normalize_phone(raw: str) -> str:
    """'0912 345 678' → '+84912345678'; '+1 617…' stays foreign. ValidationError if invalid."""
    raw = (raw or "").strip()
    if not raw:
        raise ValidationError({"phone": [_("Vui lòng nhập số điện thoại.")]})
    try:
        num = phonenumbers.parse(raw, "VN")
    except phonenumbers.NumberParseException:
        raise ValidationError({"phone": [_("Số điện thoại không hợp lệ.")]}) from None
    if not phonenumbers.is_valid_number(num):
        raise ValidationError({"phone": [_("Số điện thoại không hợp lệ.")]})
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def _hash(phone: str, code: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def _ip_key(ip):
    return f"otp-ip:{ip}"


def reset_ip_limit(ip):
    cache.delete(_ip_key(ip))


def request_code(phone: str, ip: str | None = None) -> str:
    """Send a code to the phone; returns the normalised phone number."""
    phone = normalize_phone(phone)
    now = timezone.now()
    recent = OneTimeCode.objects.filter(phone=phone, created_at__gte=now - RATE_WINDOW).count()
    if recent >= MAX_CODES_PER_PHONE:
        raise RateLimited({"phone": [_("Bạn đã yêu cầu quá nhiều mã. Vui lòng thử lại sau 10 phút.")]})
    if ip:
        key = _ip_key(ip)
        cache.add(key, 0, timeout=int(RATE_WINDOW.total_seconds()))
        try:
            count = cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=int(RATE_WINDOW.total_seconds()))
            count = 1
        if count > MAX_CODES_PER_IP:
            raise RateLimited({"phone": [_("Quá nhiều yêu cầu từ thiết bị này. Vui lòng thử lại sau 10 phút.")]})
    code = f"{secrets.randbelow(1_000_000):06d}"
    OneTimeCode.objects.create(phone=phone, code_hash=_hash(phone, code), expires_at=now + CODE_TTL)
    send_sms(phone, _("Mã đăng nhập Phản ánh hiện trường: %(code)s (hiệu lực 5 phút).") % {"code": code})
    return phone


def verify_code(phone: str, code: str):
    """The user for a correct, unexpired code (created on first sign-in); else ValidationError.
    Sends ``user_verified_phone`` (reports sent from this phone without an account become
    the user's: reports reacts)."""
    phone = normalize_phone(phone)
    code = (code or "").strip()
    now = timezone.now()
    error = None
    user = None
    with transaction.atomic():
        otp = (OneTimeCode.objects.select_for_update()
               .filter(phone=phone, used_at__isnull=True).order_by("-created_at").first())
        if otp is None or otp.expires_at < now:
            error = _("Mã đã hết hạn hoặc không tồn tại. Vui lòng yêu cầu mã mới.")
        elif otp.attempts >= MAX_ATTEMPTS:
            error = _("Đã nhập sai quá nhiều lần. Vui lòng yêu cầu mã mới.")
        elif not hmac.compare_digest(otp.code_hash, _hash(phone, code)):
            # Counted even though we raise: the error is raised after the commit.
            otp.attempts += 1
            otp.save(update_fields=["attempts"])
            error = _("Mã không đúng.")
        else:
            otp.used_at = now
            otp.save(update_fields=["used_at"])
            User = get_user_model()
            user = User.objects.filter(phone=phone).first() or User.objects.filter(username=phone).first()
            if user is None:
                user = User(username=phone, phone=phone)
                user.set_unusable_password()
                user.save()
            elif not user.phone:
                user.phone = phone
                user.save(update_fields=["phone"])
    if error:
        raise ValidationError({"code": [error]})
    signals.user_verified_phone.send(sender=type(user), user=user, phone=phone)
    return user
