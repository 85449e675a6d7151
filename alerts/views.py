"""Pages (subscribe, confirm, unsubscribe), feeds and the JSON API of area alerts.
They call alerts.subscriptions / alerts.feeds; rules live there."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from alerts import feeds, subscriptions
from alerts.models import AreaAlert
from boundaries.geojson import current_layer_url
from boundaries.views import DEFAULT_PROVINCE
from geo_portal import ratelimit
from reports.models import Category

SUBSCRIBE_RATE = "10/h"  # per client IP: each e-mail subscription sends a mail


def _limited(request):
    return ratelimit.hit("alert-subscribe", ratelimit.client_ip(request), SUBSCRIBE_RATE)


def _messages(exc):
    return {field: [str(m) for m in msgs] for field, msgs in exc.message_dict.items()}


# The page's three kinds of place and the form fields each one uses.
PAGE_PLACES = {"area": ("area",), "radius": ("lat", "lon", "radius_m"), "polygon": ("polygon",)}


def _page_data(post):
    """The page offers "the commune", "a circle around the clicked point" or "an area
    drawn on the map": keep the chosen one's fields only."""
    data = post.dict()
    chosen = data.get("place") if data.get("place") in PAGE_PLACES else "area"
    for place, fields in PAGE_PLACES.items():
        if place != chosen:
            for f in fields:
                if f != "radius_m":
                    data.pop(f, None)
    return data


def subscribe_page(request):
    context = {
        "categories": Category.objects.filter(active=True).order_by("sort_order", "name"),
        "max_radius": subscriptions.MAX_RADIUS_M,
        "vapid_public_key": settings.WEBPUSH_VAPID_PUBLIC_KEY,
        "data": request.POST or {"want_new": "1", "radius_m": "1000"},
        "js_config": {
            "boundaryUrl": f"{current_layer_url('commune')}?province={DEFAULT_PROVINCE}",
            "locateUrl": "/api/v1/locate",
            "vapidPublicKey": settings.WEBPUSH_VAPID_PUBLIC_KEY,
            "serviceWorkerUrl": reverse("alerts-sw"),
            "maxRadius": subscriptions.MAX_RADIUS_M,
            "text": {"pick": _("Bấm vào bản đồ để chọn điểm."), "outside": _("Điểm này không thuộc xã/phường nào."),
                     "draw": _("Bấm lần lượt các đỉnh của vùng trên bản đồ (ít nhất 3 đỉnh)."),
                     "drawn": _("Vùng vẽ có %(n)s đỉnh."),
                     "pushDenied": _("Trình duyệt không cho phép thông báo.")},
        },
    }
    if request.method == "POST":
        decision = _limited(request)
        if not decision.allowed:
            context["errors"] = {"form": [ratelimit.too_many_message(decision.retry_after)]}
            return ratelimit.retry_after_header(render(request, "alerts/subscribe.html", context, status=429),
                                                decision.retry_after)
        try:
            sub = subscriptions.subscribe(_page_data(request.POST), request.user)
        except ValidationError as exc:
            context["errors"] = _messages(exc)
            return render(request, "alerts/subscribe.html", context, status=400)
        except subscriptions.TooMany as exc:
            context["errors"] = {"email": [ratelimit.too_many_message(exc.retry_after)]}
            return ratelimit.retry_after_header(render(request, "alerts/subscribe.html", context, status=429),
                                                exc.retry_after)
        return render(request, "alerts/done.html", {"sub": sub, "place": subscriptions.describe_place(sub)})
    return render(request, "alerts/subscribe.html", context)


def confirm_page(request, token):
    sub = subscriptions.confirm(token)
    if sub is None:
        return render(request, "alerts/message.html", {"text": _("Đường dẫn xác nhận không hợp lệ hoặc đã hết hạn.")},
                      status=404)
    return render(request, "alerts/message.html", {"text": _("Đã xác nhận. Bạn sẽ nhận tin về %(place)s.") % {
        "place": subscriptions.describe_place(sub)}, "unsubscribe": subscriptions.unsubscribe_url(sub)})


@csrf_exempt  # RFC 8058: mail clients POST "List-Unsubscribe=One-Click" without a session
def unsubscribe_page(request, token):
    """One click: opening the link (or the mail client's POST) ends the subscription."""
    sub = subscriptions.unsubscribe(token)
    if sub is None:
        return render(request, "alerts/message.html", {"text": _("Đường dẫn hủy đăng ký không hợp lệ.")}, status=404)
    return render(request, "alerts/message.html", {"text": _("Đã hủy đăng ký nhận tin về %(place)s.") % {
        "place": subscriptions.describe_place(sub)}})


def _feed_view(feed_class):
    def view(request, fmt, **kwargs):
        try:
            return feed_class()(request, fmt=fmt, **kwargs)
        except feeds.BadParameter as exc:
            return HttpResponseBadRequest(f"{exc.field}: {exc.message}", content_type="text/plain; charset=utf-8")
    return view


area_feed = _feed_view(feeds.AreaFeed)
report_feed = _feed_view(feeds.ReportFeed)
near_feed = _feed_view(feeds.NearFeed)


def service_worker(request):
    """The Web Push service worker, served from the site root so its scope is the site."""
    from django.contrib.staticfiles import finders

    path = finders.find("alerts/sw.js")
    with open(path, encoding="utf-8") as fh:
        return HttpResponse(fh.read(), content_type="application/javascript; charset=utf-8")


class SubscriptionIn(serializers.Serializer):
    channel = serializers.ChoiceField(choices=AreaAlert.Channel.choices, default="email")
    email = serializers.EmailField(required=False, help_text="channel=email: the address (double opt-in)")
    want_new = serializers.BooleanField(required=False, default=True)
    want_resolved = serializers.BooleanField(required=False, default=False)
    area = serializers.CharField(required=False, help_text="an area's official code, e.g. a commune '06673'")
    # JSON bodies carry single values only (geo_portal/input_guard.py): the GeoJSON and the
    # push subscription travel as JSON text.
    polygon = serializers.CharField(required=False,
                                    help_text="a GeoJSON Polygon as JSON text (≤ 100 km², ≤ 500 vertices)")
    lat = serializers.FloatField(required=False)
    lon = serializers.FloatField(required=False)
    radius_m = serializers.IntegerField(required=False, help_text="≤ 5000")
    category = serializers.CharField(required=False, help_text="a category code")
    digest = serializers.BooleanField(required=False, default=False)
    push_subscription = serializers.CharField(required=False,
                                              help_text="channel=push: JSON.stringify(PushSubscription.toJSON())")


SubscriptionOut = inline_serializer("AreaAlertCreated", {
    "id": serializers.IntegerField(), "channel": serializers.CharField(), "confirmed": serializers.BooleanField(),
    "place": serializers.CharField(),
})


def _api_429(seconds, field=None):
    body = {"detail": ratelimit.too_many_message(seconds), "retry_after": seconds}
    if field:
        body["errors"] = {field: [body["detail"]]}
    return ratelimit.retry_after_header(Response(body, status=429), seconds)


@extend_schema(
    request=SubscriptionIn, responses={201: SubscriptionOut, 400: OpenApiResponse(description="field → messages"),
                                       429: OpenApiResponse(description="too many subscriptions from this address")},
    summary="Subscribe to new/resolved public reports in an area (e-mail: a confirmation mail is sent)",
    tags=["alerts"],
)
@api_view(["POST"])
@permission_classes([AllowAny])
def api_subscribe(request):
    decision = _limited(request)
    if not decision.allowed:
        return _api_429(decision.retry_after)
    data = request.data
    if hasattr(data, "dict"):
        data = data.dict()
    try:
        sub = subscriptions.subscribe(data, request.user)
    except ValidationError as exc:
        return Response({"detail": _("Dữ liệu chưa hợp lệ, hãy kiểm tra các mục được đánh dấu."),
                         "errors": _messages(exc)}, status=status.HTTP_400_BAD_REQUEST)
    except subscriptions.TooMany as exc:
        return _api_429(exc.retry_after, field="email")
    return Response({"id": sub.pk, "channel": sub.channel, "confirmed": sub.confirmed_at is not None,
                     "place": subscriptions.describe_place(sub)}, status=status.HTTP_201_CREATED)


@extend_schema(responses={200: inline_serializer("VapidKey", {"public_key": serializers.CharField()})},
               summary="The VAPID public key for Web Push subscriptions", tags=["alerts"])
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def api_vapid_key(request):
    return Response({"public_key": settings.WEBPUSH_VAPID_PUBLIC_KEY})
