"""Creating, confirming and ending area alert subscriptions (one service for the page
and the API).

E-mail is double opt-in: the subscription waits for its confirmation link (a signed
token). SMS goes only to the signed-in account's phone (signing in by one-time code
proved it), Web Push only to the browser that subscribed: both are confirmed at once.
Every message carries a one-click unsubscribe link (a signed token that never expires).
"""

import json

from django.conf import settings
from django.contrib.gis.geos import GEOSException, GEOSGeometry, Point, Polygon
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import connection
from django.db.models import F
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from alerts.models import AreaAlert
from boundaries.models import Area
from geo_portal import ratelimit
from reports.models import Category

MAX_RADIUS_M = settings.ALERT_MAX_RADIUS_M
MAX_POLYGON_KM2 = settings.ALERT_MAX_POLYGON_KM2
MAX_POLYGON_VERTICES = 500
CONFIRM_MAX_AGE = 7 * 86400

_CONFIRM_SALT = "alerts.confirm"
_UNSUB_SALT = "alerts.unsubscribe"


def base_url():
    return settings.GEO_PORTAL_BASE_URL.rstrip("/")


def confirm_token(sub):
    return signing.dumps(sub.pk, salt=_CONFIRM_SALT)


def unsubscribe_token(sub):
    return signing.dumps(sub.pk, salt=_UNSUB_SALT)


def confirm_url(sub):
    return base_url() + reverse("alerts-confirm", args=[confirm_token(sub)])


def unsubscribe_url(sub):
    return base_url() + reverse("alerts-unsubscribe", args=[unsubscribe_token(sub)])


def _bool(value, default):
    if value in (None, ""):
        return default
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("1", "true", "on", "yes")


def _float(errors, field, value, low, high):
    try:
        number = float(value)
    except (TypeError, ValueError):
        errors[field] = _("Giá trị không hợp lệ.")
        return None
    if not low <= number <= high:
        errors[field] = _("Giá trị phải từ %(low)s đến %(high)s.") % {"low": low, "high": high}
        return None
    return number


def _polygon(errors, value):
    try:
        text = value if isinstance(value, str) else json.dumps(value)
        if len(text) > 100_000:
            raise ValueError
        geom = GEOSGeometry(text, srid=4326)
    except (ValueError, TypeError, GEOSException):
        errors["polygon"] = _("Vùng vẽ phải là một đa giác GeoJSON hợp lệ.")
        return None
    if not isinstance(geom, Polygon):
        errors["polygon"] = _("Vùng vẽ phải là một đa giác GeoJSON hợp lệ.")
        return None
    if geom.num_coords > MAX_POLYGON_VERTICES:
        errors["polygon"] = _("Vùng vẽ có tối đa %(n)d đỉnh.") % {"n": MAX_POLYGON_VERTICES}
        return None
    if not geom.valid:
        errors["polygon"] = _("Vùng vẽ tự cắt nhau hoặc không khép kín.")
        return None
    x0, y0, x1, y1 = geom.extent
    if x0 < -180 or x1 > 180 or y0 < -90 or y1 > 90:
        errors["polygon"] = _("Tọa độ của vùng vẽ nằm ngoài phạm vi kinh độ/vĩ độ.")
        return None
    with connection.cursor() as cur:  # on the geography: square metres, never degrees
        cur.execute("SELECT ST_Area(ST_GeomFromEWKB(%s)::geography)", [bytes(geom.ewkb)])
        km2 = cur.fetchone()[0] / 1e6
    if km2 > MAX_POLYGON_KM2:
        errors["polygon"] = _("Vùng vẽ rộng %(km2).0f km², tối đa %(max).0f km².") % {"km2": km2,
                                                                                      "max": MAX_POLYGON_KM2}
        return None
    return geom


def _area(errors, code):
    area = (Area.objects.filter(code=str(code).strip(), version__active=True)
            .order_by(F("version__valid_from").desc(nulls_last=True), "-version_id", "id").first())
    if area is None:
        errors["area"] = _("Không tìm thấy khu vực có mã này.")
    return area


def build(data, user=None):
    """An unsaved AreaAlert from form or JSON data; ValidationError({field: message})."""
    errors = {}
    channel = str(data.get("channel") or "email")
    if channel not in AreaAlert.Channel.values:
        errors["channel"] = _("Kênh không hợp lệ.")
    sub = AreaAlert(channel=channel, language=translation.get_language() or "vi")
    sub.want_new = _bool(data.get("want_new"), True)
    sub.want_resolved = _bool(data.get("want_resolved"), False)
    if not (sub.want_new or sub.want_resolved):
        errors["want_new"] = _("Hãy chọn ít nhất một loại tin: phản ánh mới hoặc đã xử lý.")
    sub.digest = _bool(data.get("digest"), False)

    where = [k for k in ("area", "polygon", "lat") if data.get(k) not in (None, "")]
    if len(where) != 1:
        errors["area"] = _("Hãy chọn đúng một khu vực: một xã/phường, một vùng vẽ hoặc một điểm và bán kính.")
    elif where == ["area"]:
        sub.area = _area(errors, data["area"])
    elif where == ["polygon"]:
        sub.polygon = _polygon(errors, data["polygon"])
    else:
        lat = _float(errors, "lat", data.get("lat"), -90, 90)
        lon = _float(errors, "lon", data.get("lon"), -180, 180)
        radius = _float(errors, "radius_m", data.get("radius_m") or 1000, 50, MAX_RADIUS_M)
        if None not in (lat, lon, radius):
            sub.center, sub.radius_m = Point(lon, lat, srid=4326), int(radius)

    if data.get("category"):
        sub.category = Category.objects.filter(code=str(data["category"])).first()
        if sub.category is None:
            errors["category"] = _("Không có lĩnh vực này.")

    if channel == AreaAlert.Channel.EMAIL:
        sub.email = str(data.get("email") or "").strip()
        try:
            validate_email(sub.email)
        except ValidationError:
            errors["email"] = _("Địa chỉ thư điện tử không hợp lệ.")
    elif channel == AreaAlert.Channel.SMS:
        if not (user and user.is_authenticated and getattr(user, "phone", "")):
            errors["channel"] = _("Nhận tin nhắn SMS cần đăng nhập bằng số điện thoại đã xác minh.")
        else:
            sub.user = user
    elif channel == AreaAlert.Channel.PUSH:
        push = data.get("push_subscription")
        if isinstance(push, str):
            try:
                push = json.loads(push)
            except ValueError:
                push = None
        if not (isinstance(push, dict) and str(push.get("endpoint", "")).startswith("https://")
                and isinstance(push.get("keys"), dict) and push["keys"].get("p256dh") and push["keys"].get("auth")):
            errors["push_subscription"] = _("Đăng ký Web Push không hợp lệ.")
        else:
            sub.push_subscription = {"endpoint": push["endpoint"], "keys": {
                "p256dh": str(push["keys"]["p256dh"]), "auth": str(push["keys"]["auth"])}}
        if user and user.is_authenticated:
            sub.user = user
    if errors:
        raise ValidationError(errors)
    return sub


class TooMany(Exception):
    def __init__(self, retry_after):
        super().__init__(retry_after)
        self.retry_after = retry_after


# Confirmation mails to one address: anyone may type anyone's address, so the portal
# must not become a way to flood a mailbox.
CONFIRMATIONS_PER_ADDRESS = "3/d"


def subscribe(data, user=None):
    """Create a subscription; e-mail ones get the confirmation mail, the others are
    active at once. TooMany when the address has had its confirmations for the day."""
    sub = build(data, user)
    if sub.channel == AreaAlert.Channel.EMAIL:
        decision = ratelimit.hit("alert-confirm-address", sub.email.lower(), CONFIRMATIONS_PER_ADDRESS)
        if not decision.allowed:
            raise TooMany(decision.retry_after)
    if sub.channel != AreaAlert.Channel.EMAIL:
        sub.confirmed_at = timezone.now()
    sub.save()
    if sub.channel == AreaAlert.Channel.EMAIL:
        send_confirmation(sub)
    return sub


def describe_place(sub):
    if sub.area_id:
        return sub.area.name
    if sub.center is not None:
        return _("bán kính %(r)d m quanh %(lat).5f, %(lon).5f") % {"r": sub.radius_m, "lat": sub.center.y,
                                                                   "lon": sub.center.x}
    return _("vùng đã vẽ")


def send_confirmation(sub):
    with translation.override(sub.language):
        body = _(
            "Bạn (hoặc ai đó) vừa đăng ký nhận tin về phản ánh hiện trường tại %(place)s.\n\n"
            "Mở đường dẫn sau để xác nhận:\n%(url)s\n\n"
            "Nếu không phải bạn, hãy bỏ qua thư này: bạn sẽ không nhận thêm thư nào."
        ) % {"place": describe_place(sub), "url": confirm_url(sub)}
        EmailMessage(_("Xác nhận đăng ký nhận tin theo khu vực"), body, settings.DEFAULT_FROM_EMAIL, [sub.email]).send()


def _load(token, salt, max_age=None):
    try:
        pk = signing.loads(token, salt=salt, max_age=max_age)
    except signing.BadSignature:
        return None
    return AreaAlert.objects.filter(pk=pk).first()


def confirm(token):
    """The subscription the token confirms (now active), or None."""
    sub = _load(token, _CONFIRM_SALT, CONFIRM_MAX_AGE)
    if sub is not None and sub.confirmed_at is None and sub.unsubscribed_at is None:
        sub.confirmed_at = timezone.now()
        sub.save(update_fields=["confirmed_at"])
    return sub


def unsubscribe(token):
    sub = _load(token, _UNSUB_SALT)
    if sub is not None and sub.unsubscribed_at is None:
        sub.unsubscribed_at = timezone.now()
        sub.save(update_fields=["unsubscribed_at"])
    return sub
