"""Password sign-in (staff), the same for the sign-in page and the token API: a growing
lockout per username and per client IP, so guessing costs more and more time.

After 5 wrong passwords for one username within 15 minutes it is locked for 5 minutes,
then 10, 20, … (up to a day) at each further lock within a day; after 20 wrong
passwords from one IP within 15 minutes the IP is locked for 15 minutes, doubling
likewise. While locked even the right password is refused (429 with Retry-After). Attempts for
one username are taken one at a time (another at the same moment: 429, Retry-After 2 s,
counted as a wrong password), so concurrent guesses cannot pass the check together.
"""

from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from geo_portal import ratelimit
from geo_portal.accounts import otp

BY_USERNAME = ratelimit.Lockout("password-user", failures=5, window=900, base=300, longest=86400)
BY_IP = ratelimit.Lockout("password-ip", failures=20, window=900, base=900, longest=86400)


def _username(raw):
    username = str(raw or "").strip()
    try:
        return otp.normalize_phone(username) if username[:1] in "+0" else username
    except ValidationError:
        return username


def _locked(decision):
    return otp.RateLimited({"password": [_("Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau %(wait)s.")
                                         % {"wait": ratelimit.wait_text(decision.retry_after)}]},
                           decision.retry_after)


def sign_in(request, username, password):
    """The user for a right username (or phone) and password; ValidationError on
    "password" when wrong; otp.RateLimited while the username or the IP is locked."""
    username = _username(username)
    ip = ratelimit.client_ip(request)
    idents = ((BY_USERNAME, username.casefold()), (BY_IP, ip))
    # One attempt per username at a time: the lockout's check and its count are then one
    # step (concurrent guesses were all checked before the first was counted). An attempt
    # made while another runs is refused untried and counts as a wrong one: 20 guesses
    # at once lock the username as 20 in a row do.
    with ratelimit.one_at_a_time("password-user", username.casefold()) as alone:
        if not alone:
            for lockout, ident in idents:
                locked = lockout.fail(ident)
                if not locked.allowed:
                    raise _locked(locked)
            raise otp.RateLimited({"password": [_("Đang có một lần đăng nhập khác bằng tài khoản này. Vui lòng thử "
                                                  "lại sau %(wait)s.") % {"wait": ratelimit.wait_text(2)}]}, 2)
        for lockout, ident in idents:
            locked = lockout.check(ident)
            if not locked.allowed:
                raise _locked(locked)
        user = authenticate(getattr(request, "_request", request), username=username, password=password)
        if user is None:
            for lockout, ident in idents:
                locked = lockout.fail(ident)
                if not locked.allowed:
                    raise _locked(locked)
            raise ValidationError({"password": [_("Tên đăng nhập hoặc mật khẩu không đúng.")]})
        BY_USERNAME.clear(username.casefold())
    return user
