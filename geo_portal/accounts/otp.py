"""Sign-in by phone number and a one-time code sent by SMS.

request_code(phone, ip) sends a 6-digit code (only its hash is stored; valid 5
minutes; 5 attempts). Requests are rate-limited per phone and per client IP by
geo_portal.ratelimit (atomic counters). verify_code(phone, code, ip) returns the user,
created on the first sign-in with username = the E.164 phone number; repeated wrong
codes lock the phone (and the IP) out for a growing time.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta

import phonenumbers
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from geo_portal import ratelimit
from geo_portal.accounts import signals
from geo_portal.accounts.models import OneTimeCode
from geo_portal.accounts.sms import send_sms

CODE_TTL = timedelta(minutes=5)
MAX_ATTEMPTS = 5


# Wrong codes per phone across codes: after this many within VERIFY_WINDOW the phone
# is locked (an hour, doubling at each further lock within a day, up to a day), so
# guessing is not "5 tries per code × 3 codes every 10 minutes" for ever.
VERIFY_LOCKOUT = ratelimit.Lockout("otp-verify-phone", failures=10, window=3600, base=3600, longest=86400)
VERIFY_IP_LOCKOUT = ratelimit.Lockout("otp-verify-ip", failures=30, window=3600, base=3600, longest=86400)


class RateLimited(ValidationError):
    """Too many codes asked for or guessed: the view answers 429 with Retry-After."""

    def __init__(self, message, retry_after=60):
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


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


def reset_ip_limit(ip):
    ratelimit.reset("otp-send-ip", ip)


def request_code(phone: str, ip: str | None = None) -> str:
    """Send a code to the phone; returns the normalised phone number. At most
    LIMITS["otp-send-phone"] codes per phone and ["otp-send-ip"] per client IP: each
    counted atomically before anything is written, so concurrent requests cannot
    slip past the limit together."""
    phone = normalize_phone(phone)
    now = timezone.now()
    if ip:
        by_ip = ratelimit.hit("otp-send-ip", ip)
        if not by_ip.allowed:
            raise RateLimited({"phone": [_("Quá nhiều yêu cầu từ thiết bị này. Vui lòng thử lại sau %(wait)s.")
                                         % {"wait": ratelimit.wait_text(by_ip.retry_after)}]}, by_ip.retry_after)
    by_phone = ratelimit.hit("otp-send-phone", phone)
    if not by_phone.allowed:
        raise RateLimited({"phone": [_("Bạn đã yêu cầu quá nhiều mã. Vui lòng thử lại sau %(wait)s.")
                                     % {"wait": ratelimit.wait_text(by_phone.retry_after)}]}, by_phone.retry_after)
    code = f"{secrets.randbelow(1_000_000):06d}"
    OneTimeCode.objects.create(phone=phone, code_hash=_hash(phone, code), expires_at=now + CODE_TTL)
    send_sms(phone, _("Mã đăng nhập Phản ánh hiện trường: %(code)s (hiệu lực 5 phút).") % {"code": code})
    return phone


def _locked(decision):
    return RateLimited({"code": [_("Đã nhập sai mã quá nhiều lần. Vui lòng thử lại sau %(wait)s.")
                                 % {"wait": ratelimit.wait_text(decision.retry_after)}]}, decision.retry_after)


def verify_code(phone: str, code: str, ip: str | None = None):
    """The user for a correct, unexpired code (created on first sign-in); else
    ValidationError, or RateLimited while the phone (or the IP) is locked out. Sends
    ``user_verified_phone`` (reports sent from this phone without an account become the
    user's: reports reacts)."""
    phone = normalize_phone(phone)
    code = (code or "").strip()
    now = timezone.now()
    for lockout, ident in ((VERIFY_LOCKOUT, phone), (VERIFY_IP_LOCKOUT, ip)):
        locked = lockout.check(ident) if ident else ratelimit.ALLOWED
        if not locked.allowed:
            raise _locked(locked)
    wrong = False
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
            wrong = True
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
    if wrong:
        for lockout, ident in ((VERIFY_LOCKOUT, phone), (VERIFY_IP_LOCKOUT, ip)):
            locked = lockout.fail(ident) if ident else ratelimit.ALLOWED
            if not locked.allowed:
                raise _locked(locked)
    if error:
        raise ValidationError({"code": [error]})
    VERIFY_LOCKOUT.clear(phone)
    signals.user_verified_phone.send(sender=type(user), user=user, phone=phone)
    return user
