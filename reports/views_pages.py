"""The report pages: citizen intake, public tracking, "my reports", the operator desk
and the officer queue. Views hold no business rules: they call reports.intake,
reports.workflow, reports.policy.access and reports.sla."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
    ValidationError,
)
from django.core.paginator import Paginator
from django.db.models import BooleanField, Case, Q, Value, When
from django.http import Http404, HttpResponseForbidden, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.formats import get_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from boundaries.geojson import current_layer_url
from boundaries.lookup import fold_text
from reports import notify, policy, workflow
from reports.forms import PublicFilterForm, QueueFilterForm
from reports.models import Category, Media, Rating, Report, ReportEvent, StaffRole, Subscription
from reports.policy import access

DEMO_PROVINCES = [("22", "Quảng Ninh"), ("46", "Huế"), ("11", "Điện Biên"), ("96", "Cà Mau")]
MAP_POINT_LIMIT = 5000


def _url_or(name, default, **kwargs):
    try:
        return reverse(name, kwargs=kwargs or None)
    except NoReverseMatch:
        return default


def _report_or_404(code):
    report = (Report.objects.select_related("category__parent", "commune", "authority", "merged_into")
              .filter(code=code).first())
    if report is None:
        raise Http404(_("Không tìm thấy phản ánh %(code)s.") % {"code": code})
    return report


def _categories_json():
    cats = []
    for c in Category.objects.filter(active=True).select_related("parent"):
        if c.parent_id is None and c.children.exists():
            continue
        cats.append({
            "code": c.code, "name": c.name, "group": c.parent.name if c.parent_id else "",
            "icon": c.icon or (c.parent.icon if c.parent_id else ""),
            "color": c.parent.color if c.parent_id and c.color in ("", "#3388ff") else c.color,
        })
    return cats


def _field_errors(exc: ValidationError) -> dict:
    if hasattr(exc, "error_dict"):
        return {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
    return {"__all__": [str(m) for m in exc.messages]}


# --- citizen intake -----------------------------------------------------------------


def _intake_i18n():
    return {
        "commune": _("Xã/phường"), "authority": _("Cơ quan xử lý"),
        "outside": _("Vị trí nằm ngoài các xã/phường đã có dữ liệu."),
        "noAuthority": _("chưa xác định — Tổ vận hành sẽ phân công"),
        "pickCategory": _("Hãy chọn lĩnh vực để biết cơ quan xử lý."),
        "follow": _("Theo dõi phản ánh này"), "view": _("Xem"),
        "loginToFollow": _("Đăng nhập để theo dõi"),
        "sending": _("Đang gửi…"), "failed": _("Không gửi được, vui lòng thử lại."),
        "fixErrors": _("Vui lòng sửa các lỗi được đánh dấu."),
        "tooManyPhotos": _("Tối đa 5 ảnh."), "photoTooBig": _("Ảnh lớn hơn 10 MB:"),
        "videoTooBig": _("Video lớn hơn 50 MB."),
        "noPin": _("Hãy đặt ghim trên bản đồ hoặc chọn xã/phường trong danh sách."),
        "geoFailed": _("Không lấy được vị trí của thiết bị."),
        "snapped": _("Ghim ở ngoài ranh giới, đã lấy đơn vị gần nhất"),
        "photoPlace": _("Nơi chụp ảnh (theo GPS của ảnh)."),
        "devicePlace": _("Vị trí của điện thoại, sai số khoảng %(m)s m."),
        "suggestedPin": _("Vị trí gợi ý: kéo để chỉnh"), "metres": _("cách"), "loading": _("Đang tải ranh giới…"),
        "noMatch": _("Không tìm thấy xã/phường."),
        "zoomIn": _("Phóng to bản đồ"), "zoomOut": _("Thu nhỏ bản đồ"), "pin": _("Vị trí đã chọn trên bản đồ"),
        "byCommune": _("Vị trí theo xã/phường đã chọn (không có ghim)."),
        # offline-intake.js
        "queued": _("Đã lưu, sẽ gửi khi có mạng."), "sentReceipt": _("Đã gửi phản ánh, mã"),
        "viewReceipt": _("Xem biên nhận"), "sent": _("Đã gửi."),
    }


def intake(request):
    """GET: the pin-drop page. POST (from its JS, or without JS): intake.create_report."""
    if request.method == "POST":
        return _intake_post(request)
    return render(request, "reports/intake.html", _intake_context(request, request.GET.get("tinh")))


INTAKE_FIELDS = ("lat", "lon", "commune", "address", "category", "description", "photos", "video", "contact_name",
                 "contact_phone", "contact_email")

# "Phường Bãi Cháy" is listed as "Bãi Cháy (phường)": a select's type-ahead then finds a
# commune by its own name's first letters, not by its kind.
_COMMUNE_KINDS = ("Phường", "Xã", "Thị trấn", "Đặc khu")


def _communes_by_province(province_codes):
    """[(province name, [(code, label), …]), …]: the communes of the current boundary
    version in these provinces (in this order), by name; the page's way to choose a
    place without the map."""
    from boundaries.models import Area, BoundaryVersion

    version = BoundaryVersion.objects.current()
    if version is None:
        return []
    names, items = {}, {code: [] for code in province_codes}
    rows = (Area.objects.filter(version=version, type__code="commune", parent__code__in=province_codes)
            .values_list("code", "name", "parent__code", "parent__name"))
    for code, name, province_code, province_name in rows:
        label, order = name, (fold_text(name), "")
        for kind in _COMMUNE_KINDS:
            if name.startswith(kind + " "):
                rest = name[len(kind) + 1:]
                label, order = f"{rest} ({kind.lower()})", (fold_text(rest), fold_text(kind))
                break
        names[province_code] = province_name
        items[province_code].append((order, code, label))
    return [(names[pc], [(code, label) for _order, code, label in sorted(items[pc])])
            for pc in province_codes if items[pc]]


def _intake_context(request, province, errors=None):
    if province not in dict(DEMO_PROVINCES):
        province = "22"
    errors = dict(errors or {})
    if errors.get("lon") and errors.get("lon") == errors.get("lat"):
        errors.pop("lon")  # "choose a place on the map" once, not twice
    # An error for a field the page has no place for is shown at the top, never lost.
    shown = set(INTAKE_FIELDS) | {"location", "__all__"}
    all_errors = list(errors.get("__all__", [])) + [e for k, v in errors.items() if k not in shown for e in v]
    values = {}
    if request.method == "POST":  # a re-rendered page keeps what the citizen typed
        values = {k: request.POST.get(k, "")[:5000] for k in INTAKE_FIELDS}
    boundary_url = current_layer_url("commune")
    return {
        # Fetched from the page's head, alongside leaflet.js, not after it (intake.js asks
        # for the same URL): on slow 3G the map draws ~a round trip and a script earlier.
        "boundary_preload": f"{boundary_url}?province={province}" if boundary_url else "",
        "categories": _categories_json(),
        "communes": _communes_by_province([code for code, _name in DEMO_PROVINCES]),
        "provinces": DEMO_PROVINCES,
        "province": province,
        "errors": errors,
        "all_errors": all_errors,
        "values": values,
        "config": {
            "province": province,
            "boundaryUrl": boundary_url,
            "locateUrl": _url_or("api-locate", "/api/v1/locate"),
            "nearbyUrl": _url_or("api-nearby", "/api/v1/reports/nearby"),
            "photoHintUrl": _url_or("api-photo-hint", "/api/v1/reports/photo-hint"),
            "previewUrl": _url_or("api-preview", "/api/v1/reports/preview"),
            "submitUrl": reverse("report-new"),
            "swUrl": _url_or("service-worker", ""),
            "followUrl": "/phan-anh/{code}/theo-doi/",
            "signedIn": request.user.is_authenticated,
            "loginUrl": reverse("login"),
            "maxPhotos": 5,
            "maxPhotoMb": 10,
            "maxVideoMb": 50,
            "i18n": _intake_i18n(),
            # Leaflet finds its marker images from leaflet.css's URL, which content-hashed
            # names break (the pin would be a broken image): given here, hashed.
            "markerIcons": {"iconUrl": static("vendor/leaflet/images/marker-icon.png"),
                            "iconRetinaUrl": static("vendor/leaflet/images/marker-icon-2x.png"),
                            "shadowUrl": static("vendor/leaflet/images/marker-shadow.png")},
        },
        "photo_prep": _photo_prep_config(),
    }


def _photo_prep_config():
    """What reports/static/reports/photo-prep.js needs: photos are downsized on the phone
    to this longest side (below the server's public size, so the server re-encodes without
    shrinking them again) before they are sent."""
    from reports import media

    return {
        "maxSide": media.PHONE_MAX_SIDE, "quality": media.PHONE_JPEG_QUALITY, "keepBytes": media.PHONE_KEEP_BYTES,
        "maxPhotos": media.max_photos(),
        "exifrUrl": static("vendor/exifr-lite.umd.js"),
        "i18n": {
            "preparing": _("Đang thu nhỏ ảnh…"), "prepared": _("Ảnh đã thu nhỏ để gửi nhanh:"),
            "tooMany": _("Tối đa %(n)d ảnh: các ảnh sau đã bị bỏ.") % {"n": media.max_photos()},
        },
    }


def _intake_post(request):
    from reports import intake as intake_service

    wants_json = request.headers.get("Accept", "").startswith("application/json")

    def refuse(message, status, retry_after=None):
        errors = {"__all__": [message]}
        if wants_json:
            response = JsonResponse({"errors": errors}, status=status)
        else:
            response = render(request, "reports/intake.html",
                              _intake_context(request, request.POST.get("tinh"), errors),
                              status=status)
        if retry_after:
            response["Retry-After"] = str(retry_after)
        return response

    # (A body over REPORT_MAX_REQUEST_BYTES never gets here: reports.middleware refuses it unread.)
    try:
        request.POST, request.FILES  # noqa: B018 — parse now, so a broken upload is a message, not a bare 400
    except (RequestDataTooBig, TooManyFilesSent, TooManyFieldsSent):
        return refuse(_("Dữ liệu gửi lên quá lớn hoặc quá nhiều tệp."), 413)
    except MultiPartParserError:
        return refuse(_("Không đọc được dữ liệu gửi lên, vui lòng thử lại."), 400)
    limited = intake_service.submission_rate_limited(request)  # the same counter as the API
    if limited:
        from geo_portal.ratelimit import wait_text

        return refuse(_("Bạn gửi quá nhiều phản ánh trong thời gian ngắn. Hãy thử lại sau %(wait)s.")
                      % {"wait": wait_text(limited.retry_after)}, 429, limited.retry_after)
    key = request.POST.get("idempotency_key") or request.headers.get("Idempotency-Key")  # intake.stored_key
    user = request.user if request.user.is_authenticated else None
    try:
        report = intake_service.create_report(request.POST, request.FILES, user, key,
                                              scope=intake_service.idempotency_scope(request))
    except ValidationError as exc:
        errors = _field_errors(exc)
        status = 400
        if isinstance(exc, intake_service.IdempotencyConflict):
            status = 422
            errors["__all__"] = errors.pop("idempotency_key", [])  # the form has no such field to mark
        if wants_json:
            return JsonResponse({"errors": errors}, status=status)
        return render(request, "reports/intake.html", _intake_context(request, request.POST.get("tinh"), errors),
                      status=status)
    # The receipt links carry the report's token: the report is not public yet, and its
    # code alone (sequential) reaches it only for its reporter signed in and its staff.
    token = "?" + urlencode({"t": report.receipt_token})
    done = reverse("report-sent", kwargs={"code": report.code}) + token
    if wants_json:
        return JsonResponse({"code": report.code, "url": reverse("report-public", kwargs={"code": report.code}) + token,
                             "receipt_token": report.receipt_token, "done": done}, status=201)
    return redirect(done)


def _viewable_or_404(request, code):
    """The report if this user (or the receipt token in ?t=) may see it; 404 otherwise,
    exactly as for a code that does not exist."""
    report = _report_or_404(code)
    if not access.can_view_report(request.user, report, request.GET.get("t")):
        raise Http404(_("Không tìm thấy phản ánh %(code)s.") % {"code": code})
    return report


def sent(request, code):
    report = _viewable_or_404(request, code)
    token = request.GET.get("t") if access.holds_token(report, request.GET.get("t")) else ""
    return render(request, "reports/sent.html", {"report": report, "token": token})


@login_required
def follow(request, code):
    """"Same problem? Follow it instead": subscribe to an existing report."""
    report = _viewable_or_404(request, code)
    # GET is where "login to follow" lands after signing in: it follows too, unless the
    # browser says another site sent the user here (Sec-Fetch-Site).
    same_site = request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")
    if request.method == "POST" or (request.method == "GET" and same_site):
        notify.follow(report, request.user.pk)
        messages.success(request,
                         _("Bạn sẽ nhận thông báo khi phản ánh %(code)s có tiến triển.") % {"code": report.code})
    return redirect("report-public", code=report.code)


# --- public tracking ---------------------------------------------------------------


def _event_label(ev):
    return workflow.ACTION_LABELS.get(ev.action, ev.action)


def _who(ev):
    """Who acted, as the public sees it: an authority or a role, never a person's name."""
    if ev.authority_id:
        return ev.authority.name
    return {
        "reporter": _("Người dân"), "public": _("Người dân"), "citizen": _("Người dân"),
        "operator": _("Tổ vận hành"), "admin": _("Quản trị"), "system": _("Hệ thống"),
        "officer": _("Đơn vị xử lý"),
    }.get(ev.actor_role, "")


def public_detail(request, code):
    report = _viewable_or_404(request, code)
    private = access.can_view_private(request.user, report)
    is_reporter = access.is_reporter(request.user, report)
    token = request.GET.get("t") if access.holds_token(report, request.GET.get("t")) else ""
    here = reverse("report-public", kwargs={"code": report.code}) + ("?" + urlencode({"t": token}) if token else "")
    status = 200
    form_errors = {}
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "comment":
                workflow.add_comment(report, request.user, request.POST.get("text"),
                                     show_name=bool(request.POST.get("show_name")))
                messages.success(request, _("Đã gửi bình luận."))
            elif action == "rate":
                if not request.user.is_authenticated:
                    raise workflow.Forbidden(_("Hãy đăng nhập để đánh giá."))
                workflow.transition(report, "rate", request.user,
                                    {"level": request.POST.get("level"), "reason": request.POST.get("reason", "")},
                                    expected_version=request.POST.get("row_version"))
                messages.success(request, _("Cảm ơn bạn đã đánh giá kết quả xử lý."))
            else:
                raise ValidationError({"action": [_("Thao tác không hợp lệ.")]})
            return redirect(here)
        except (workflow.Forbidden, PermissionDenied) as exc:
            messages.error(request, str(getattr(exc, "message", exc)))
            status = 403
        except workflow.Conflict as exc:
            messages.error(request, exc.message)
            status = 409
        except workflow.InvalidTransition as exc:
            messages.error(request, exc.message)
            status = 400
        except ValidationError as exc:
            form_errors = _field_errors(exc)
            status = 400
        report = _report_or_404(code)
    events = (ReportEvent.objects.filter(report=report, is_public=True)
              .select_related("authority").order_by("created_at", "id"))
    timeline = [{"at": ev.created_at, "label": _event_label(ev), "who": _who(ev), "ev": ev,
                 "reject_reason": (Report.RejectReason(ev.reason_code).label
                                   if ev.action == "reject" and ev.reason_code in Report.RejectReason.values else ""),
                 "reason": ev.reason if ev.action in ("reject", "close", "reopen", "rate", "grant_extension") else ""}
                for ev in events]
    result_public = report.state in policy.RESULT_PUBLIC
    media = list(Media.objects.filter(report=report))
    for m in media:
        m.shown = access.can_view_media(request.user, m, token)  # a video not reviewed yet: a notice instead
    comments = list(report.comments.filter(is_hidden=False).select_related("authority", "author"))
    for c in comments:
        c.shown_as = access.comment_author_label(c)
    can_rate = is_reporter and "rate" in workflow.allowed_actions(report, request.user)
    rating = Rating.objects.filter(report=report).first()
    return render(request, "reports/public_detail.html", {
        "report": report,
        "timeline": timeline,
        "photos": [m for m in media if m.stage == "report"],
        "result_photos": [m for m in media if m.stage == "result"] if result_public else [],
        "result_public": result_public,
        "comments": comments,
        "overdue": policy.overdue_kind(report),
        "can_rate": can_rate,
        "rating": rating,
        "rating_levels": Rating.Level.choices,
        "form_errors": form_errors,
        "is_reporter": is_reporter,
        "token": token,
        "media_query": access.media_query(request.user, report, token),
        "in_forward_stage": report.state in policy.FORWARD_STAGE,
        "rate_after_sign_in": report.state == Report.State.PUBLISHED and not request.user.is_authenticated,
        "staff_url": _staff_url(request.user, report) if private else "",
        "following": (request.user.is_authenticated
                      and Subscription.objects.filter(report=report, user=request.user).exists()),
    }, status=status)


def _staff_url(user, report):
    roles = access.roles_of(user)
    if ("operator" in roles or "admin" in roles
            or "leader" in roles and report.province_code in access.province_codes(user)):
        return reverse("desk-report", kwargs={"code": report.code})
    return reverse("queue-report", kwargs={"code": report.code})


def _grouped(n):
    """5.683 in Vietnamese, 5,683 in English."""
    return f"{n:,}".replace(",", get_format("THOUSAND_SEPARATOR"))


def _points(qs):
    """Compact map points: {"cats": [[name, colour]…], "points": [[code, lat, lon, cat index]…]}."""
    rows = list(qs.values_list("code", "location", "category_id")[:MAP_POINT_LIMIT])
    note = ""
    if len(rows) == MAP_POINT_LIMIT:  # the map's cluster counts would understate: say so
        total = qs.count()
        if total > MAP_POINT_LIMIT:
            note = _("Bản đồ hiện %(shown)s phản ánh mới nhất trong tổng số %(total)s; hãy lọc để xem các phản ánh "
                     "khác.") % {
                "shown": _grouped(MAP_POINT_LIMIT), "total": _grouped(total)}
    cats = {c.id: (c.name, c.parent.color if c.parent_id and c.color in ("", "#3388ff") else c.color)
            for c in Category.objects.select_related("parent")}
    order, points = {}, []
    for code, p, cat_id in rows:
        idx = order.setdefault(cat_id, len(order))
        points.append([code, round(p.y, 5), round(p.x, 5), idx])
    names = [None] * len(order)
    for cat_id, idx in order.items():
        names[idx] = list(cats.get(cat_id, ("", "#3388ff")))
    return {"cats": names, "points": points, "note": note}


def public_list(request):
    form = PublicFilterForm(request.GET or None, states=list(policy.PUBLIC.values))
    qs = form.apply(access.public_reports()).select_related("category", "commune", "authority")
    paginator = Paginator(qs.order_by("-created_at"), 20)
    page_obj = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "reports/public_list.html", {
        "form": form, "page_obj": page_obj, "query": query.urlencode(),
        "points_url": reverse("report-points") + ("?" + query.urlencode() if query else ""),
    }, status=400 if form.errors else 200)


@require_GET
def public_points(request):
    """The public map's points (same filters as the list), at most MAP_POINT_LIMIT; an
    unknown jurisdiction is a 400 naming the field (other bad filters are left out, as
    the list shows them)."""
    form = PublicFilterForm(request.GET or None, states=list(policy.PUBLIC.values))
    qs = form.apply(access.public_reports()).order_by("-created_at")
    if "jurisdiction" in form.errors:
        return JsonResponse({"errors": {"jurisdiction": [str(m) for m in form.errors["jurisdiction"]]}}, status=400)
    return JsonResponse({**_points(qs), "limit": MAP_POINT_LIMIT})


@login_required
def my_reports(request):
    qs = (Report.objects.filter(Q(reporter=request.user) | Q(subscriptions__user=request.user))
          .distinct().select_related("category", "commune", "authority").order_by("-created_at"))
    page_obj = Paginator(qs, 20).get_page(request.GET.get("page"))
    for r in page_obj:  # the reporter's own: the receipt link, which works signed out too
        if r.reporter_id == request.user.pk:
            r.link = reverse("report-public", kwargs={"code": r.code}) + "?" + urlencode({"t": r.receipt_token})
    return render(request, "reports/my_reports.html", {"page_obj": page_obj})


# --- staff: the desk and the queue ---------------------------------------------------


def _overdue_first(qs):
    now = timezone.now()
    return qs.annotate(is_late=Case(When(policy.overdue_q(now), then=Value(True)), default=Value(False),
                                    output_field=BooleanField()))


def _require_roles(request, wanted):
    if not request.user.is_authenticated:
        return redirect(f"{reverse('login')}?next={request.get_full_path()}")
    if not access.roles_of(request.user) & set(wanted):
        return HttpResponseForbidden(render(request, "reports/forbidden.html", {
            "message": _("Trang này dành cho cán bộ được phân công.")}).content)
    return None


def desk(request):
    denied = _require_roles(request, ("operator", "leader", "admin"))
    if denied:
        return denied
    tab = request.GET.get("tab", "todo")
    base = access.queue_reports(request.user)
    if "admin" not in access.roles_of(request.user):
        base = base.filter(province_code__in=access.province_codes(request.user))
    tabs = {
        "todo": base.filter(policy.FORWARD_STAGE.q()),
        "publish": base.filter(state=Report.State.RESOLVED),
        "extension": base.filter(policy.RESOLVE_STAGE.q(), extension_requested_until__isnull=False),
        "all": base,
    }
    if tab not in tabs:
        tab = "todo"
    form = QueueFilterForm(request.GET or None)
    qs = form.apply(tabs[tab])
    if getattr(form, "cleaned_data", {}).get("overdue"):
        qs = qs.filter(policy.overdue_q())
    qs = _overdue_first(qs).select_related("category", "commune", "authority").order_by("-is_late", "created_at")
    page_obj = Paginator(qs, 30).get_page(request.GET.get("page"))
    counts = {k: v.count() for k, v in tabs.items() if k != "all"}
    return render(request, "reports/desk.html", {
        "tab": tab, "page_obj": page_obj, "form": form, "counts": counts,
        "is_leader": not (access.roles_of(request.user) & {"operator", "admin"}),
    }, status=400 if form.errors else 200)


def queue(request):
    denied = _require_roles(request, ("officer", "leader", "admin"))
    if denied:
        return denied
    base = access.queue_reports(request.user)
    roles = access.roles_of(request.user)
    if "officer" in roles and "admin" not in roles:
        base = base.filter(authority_id__in=access.authority_ids(request.user))
    form = QueueFilterForm(request.GET or None)
    qs = form.apply(base)
    if not getattr(form, "cleaned_data", {}).get("state"):
        qs = qs.filter(policy.UNIT_QUEUE.q())
    if getattr(form, "cleaned_data", {}).get("overdue"):
        qs = qs.filter(policy.overdue_q())
    qs = (_overdue_first(qs).select_related("category", "commune", "authority")
          .order_by("-is_late", "resolve_due", "created_at"))
    page_obj = Paginator(qs, 30).get_page(request.GET.get("page"))
    authorities = sorted({r.authority.name for r in access.staff_roles(request.user) if r.authority_id})
    return render(request, "reports/queue.html", {
        "page_obj": page_obj, "form": form, "points": _points(qs), "authorities": authorities,
        "is_leader": not (roles & {"officer", "admin"}),
    }, status=400 if form.errors else 200)


ACTION_FIELDS = {
    "forward": ["authority"], "transfer": ["authority"], "reject": ["reason_code", "reason"], "merge": ["into"],
    "change_category": ["category"], "move_pin": ["lat", "lon"], "return": ["reason", "suggested_authority"],
    "request_extension": ["until", "reason"], "grant_extension": ["reason"], "refuse_extension": ["reason"],
    "resolve": ["result_text", "photos"], "rework": ["reason"], "close": ["reason"],
}
DANGER_ACTIONS = {"reject", "merge", "return", "refuse_extension", "close", "rework"}


def staff_report(request, code, area="desk"):
    """One report for the desk (/dieu-hanh/<code>/) or the queue (/xu-ly/<code>/)."""
    if not request.user.is_authenticated:
        return redirect(f"{reverse('login')}?next={request.get_full_path()}")
    report = _viewable_or_404(request, code)
    if not access.can_view_private(request.user, report):
        return HttpResponseForbidden(render(request, "reports/forbidden.html", {
            "message": _("Bạn không có quyền xem phản ánh này: phản ánh thuộc đơn vị khác.")}).content)
    status = 200
    errors, failed_action = {}, ""
    if request.method == "POST":
        if not access.can_act(request.user, report):
            return HttpResponseForbidden(render(request, "reports/forbidden.html", {
                "message": _("Bạn chỉ có quyền xem phản ánh này, không có quyền thao tác.")}).content)
        action = request.POST.get("action", "")
        data = {k: v for k, v in request.POST.items() if k not in ("csrfmiddlewaretoken", "action", "row_version")}
        if request.FILES.getlist("photos"):
            data["photos"] = request.FILES.getlist("photos")
        try:
            workflow.transition(report, action, request.user, data, expected_version=request.POST.get("row_version"))
        except workflow.Conflict as exc:
            messages.error(request, exc.message)
            status = 409
        except (workflow.Forbidden, PermissionDenied) as exc:
            return HttpResponseForbidden(render(request, "reports/forbidden.html", {
                "message": str(getattr(exc, "message", exc))}).content)
        except workflow.InvalidTransition as exc:
            messages.error(request, exc.message)
            status = 400
        except ValidationError as exc:
            errors, failed_action = _field_errors(exc), action
            messages.error(request, _("Chưa thực hiện được: hãy sửa các lỗi bên dưới."))
            status = 400
        else:
            messages.success(request,
                             _("Đã thực hiện: %(action)s.") % {"action": workflow.ACTION_LABELS.get(action, action)})
            return redirect(request.path)
        report = _report_or_404(code)
    actions = workflow.allowed_actions(report, request.user) if access.can_act(request.user, report) else []
    # the media actions are offered beside each photo and video, not among the buttons
    media_actions = {a for a in actions if a in workflow.MEDIA_ACTIONS}
    actions = [a for a in actions if a not in workflow.MEDIA_ACTIONS]
    media = list(Media.objects.filter(report=report))
    photo_editors = [{"id": m.pk, "original": m.original.url, "regions_json": json.dumps(m.blur_regions or [])}
                     for m in media if m.kind == "photo" and m.original and "edit_blur" in media_actions]
    from boundaries.models import Authority

    authorities = Authority.objects.filter(active=True, province_code=report.province_code).order_by("level", "name") \
        if set(actions) & {"forward", "transfer"} else []
    events = ReportEvent.objects.filter(report=report).select_related("authority", "actor").order_by("created_at", "id")
    return render(request, "reports/staff_report.html", {
        "report": report, "area": area, "actions": [
            {"code": a, "label": workflow.ACTION_LABELS.get(a, a), "fields": ACTION_FIELDS.get(a, []),
             "danger": a in DANGER_ACTIONS} for a in actions],
        "errors": errors, "failed_action": failed_action,
        "events": [{"ev": ev, "label": _event_label(ev), "who": _who(ev)} for ev in events],
        "media": media,
        "photo_editors": photo_editors,
        "can_review_video": "review_video" in media_actions,
        "blur_strings": {"remove": _("Bỏ"), "face": _("khuôn mặt"), "plate": _("biển số"), "manual": _("vùng thêm tay"),
                         "none": _("Chưa có khung nào: ảnh công khai không bị làm mờ chỗ nào.")},
        "comments": report.comments.select_related("authority"),
        "overdue": policy.overdue_kind(report),
        "reject_reasons": Report.RejectReason.choices,
        "categories": Category.objects.filter(active=True, parent__isnull=False),
        "authorities": authorities,
        "back": reverse("desk") if area == "desk" else reverse("queue"),
        "role_names": dict(StaffRole.Role.choices),
        "point": {"lat": report.location.y, "lon": report.location.x},
    }, status=status)


def desk_report(request, code):
    return staff_report(request, code, area="desk")


def queue_report(request, code):
    return staff_report(request, code, area="queue")
