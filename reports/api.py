"""REST API v1 for reports (GeoJSON). Views call the services (intake, workflow,
permissions); they hold no business rules.

Errors: 400 {"detail", "errors": {field: [messages]}} for bad input, 403 for a role or
jurisdiction that does not allow it, 404 for an unknown or non-public report, 409 for
a stale row_version (someone acted first), 413 for an oversized body, 422 for a used
idempotency key with a different body, 429 (with Retry-After) when a rate limit is hit.
"""

import math

from django.conf import settings
from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point, Polygon
from django.contrib.gis.measure import D
from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFilesSent, ValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_gis.pagination import GeoJsonPagination

from geo_portal import ratelimit
from reports import intake, media, notify, workflow
from reports.filters import ReportFilter
from reports.models import Category, Report
from reports.policy import access
from reports.serializers import (
    ActionSerializer,
    CategorySerializer,
    CommentSerializer,
    ReportCreateSerializer,
    ReportDetailSerializer,
    ReportFeatureSerializer,
    ReportReceiptSerializer,
    receipt_feature,
)

NEARBY_DEFAULT_M = 200
NEARBY_MAX_M = 2000


def error_response(exc, http_status=status.HTTP_400_BAD_REQUEST):
    if isinstance(exc, ValidationError):
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response({"detail": _("Dữ liệu chưa hợp lệ, hãy kiểm tra các mục được đánh dấu."), "errors": errors},
                        status=400)
    return Response({"detail": str(exc)}, status=http_status)


def workflow_error_response(exc, report=None):
    if isinstance(exc, workflow.Conflict):
        body = {"detail": exc.message, "code": exc.code}
        if report is not None:
            body["row_version"] = Report.objects.filter(pk=report.pk).values_list("row_version", flat=True).first()
        return Response(body, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, workflow.Forbidden | PermissionDenied):
        return Response({"detail": str(exc) or _("Bạn không có quyền thực hiện thao tác này.")},
                        status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, workflow.InvalidTransition):
        return Response({"detail": exc.message, "code": exc.code}, status=status.HTTP_400_BAD_REQUEST)
    return error_response(exc)


def _plain(data):
    """A QueryDict / dict as a plain dict of single values."""
    if hasattr(data, "dict"):
        return data.dict()
    return dict(data or {})


def _report_qs():
    return Report.objects.select_related("category__parent", "commune", "authority", "merged_into")


def get_public_report(request, code):
    """The report by its public code: public ones to anyone, others to staff of it, its
    reporter and the holder of its receipt token; 404 otherwise (an unpublished report
    is indistinguishable from a code that does not exist)."""
    report = _report_qs().filter(code=code).first()
    if report is not None and access.can_view_report(request.user, report, access.receipt_token_of(request)):
        return report
    # One answer for both (get_object_or_404 said "No Report matches the given query.",
    # in English, only when the code did not exist).
    raise Http404(_("Không tìm thấy phản ánh %(code)s.") % {"code": code[:40]})


class ReportPagination(GeoJsonPagination):
    invalid_page_message = gettext_lazy("Trang không hợp lệ.")
    # ?page_size= above this is answered as this: one anonymous call must not serialise
    # every stored report (5,748 demo reports were 4.7 MB in 4.6 s; the exports and OGC
    # API Features serve bulk reads).
    max_page_size = 1000
    page_size_query_description = "Reports per page (default 50; more than 1000 is answered as 1000)."

    def get_paginated_response_schema(self, view):
        # rest_framework_gis's own schema leaves "results" required and nests a whole
        # FeatureCollection under "features": the answer is one flat FeatureCollection.
        schema = super().get_paginated_response_schema(view)
        schema["properties"]["features"] = {"type": "array", "items": {"$ref": "#/components/schemas/ReportFeature"}}
        schema["required"] = ["type", "count", "features"]
        return schema


class ReportListCreate(GenericAPIView):
    """GET: public reports as a GeoJSON FeatureCollection (``scope=queue``: the caller's
    own queue — an officer's authority, the desk's province, a citizen's own reports).
    POST: a new report (multipart), with an idempotency key."""

    serializer_class = ReportFeatureSerializer
    pagination_class = ReportPagination
    filterset_class = ReportFilter
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_queryset(self):
        if self.request.query_params.get("scope") == "queue":
            qs = access.queue_reports(self.request.user)
        else:
            qs = access.public_reports()
        return qs.select_related("category", "commune", "authority").order_by("-created_at", "-id")

    @extend_schema(operation_id="reports_list", parameters=[OpenApiParameter("scope", str, enum=["public", "queue"])],
                   responses=ReportFeatureSerializer(many=True))  # a paginated FeatureCollection
    def get(self, request):
        params = request.query_params
        if params.get("scope") == "queue" and access.is_staff_member(request.user):
            # a staff queue of a province or an authority the user does not serve: 403
            for field, check in (("province", access.require_province), ("authority", access.require_authority)):
                try:
                    check(request.user, params.get(field))
                except PermissionDenied as exc:
                    return Response({"detail": str(exc), "errors": {field: [str(exc)]}}, status=403)
        try:
            qs = self.filter_queryset(self.get_queryset())
        except ValidationError as exc:
            return error_response(exc)
        page = self.paginate_queryset(qs)
        data = self.get_serializer(page, many=True).data
        return self.get_paginated_response(data)

    @extend_schema(
        request={"multipart/form-data": ReportCreateSerializer},
        responses={201: ReportReceiptSerializer, 200: ReportReceiptSerializer, 400: OpenApiTypes.OBJECT,
                   422: OpenApiTypes.OBJECT, 429: OpenApiTypes.OBJECT},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    def post(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.REPORT_MAX_REQUEST_BYTES
        if length > limit:
            return Response(
                {"detail": _("Dữ liệu gửi lên quá lớn (%(size)d MB, tối đa %(max)d MB).") % {"size": length // 2**20,
                                                                                             "max": limit // 2**20}},
                status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        limited = intake.submission_rate_limited(request)
        if limited:
            return ratelimit.json_429(limited,
                                      _("Bạn gửi quá nhiều phản ánh trong thời gian ngắn. Hãy thử lại sau %(wait)s.")
                                      % {"wait": ratelimit.wait_text(limited.retry_after)})
        try:
            data, files = request.data, request.FILES
        except (RequestDataTooBig, TooManyFilesSent):
            return Response({"detail": _("Dữ liệu gửi lên quá lớn hoặc quá nhiều tệp.")},
                            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        except ParseError:
            return Response({"detail": _("Không đọc được dữ liệu gửi lên, vui lòng thử lại.")},
                            status=status.HTTP_400_BAD_REQUEST)
        key = request.headers.get("Idempotency-Key") or data.get("idempotency_key")
        try:
            report = intake.create_report(data, files, request.user, key, source="api",
                                          scope=intake.idempotency_scope(request))
        except intake.IdempotencyConflict as exc:
            return Response({"detail": exc.messages[0], "errors": exc.message_dict},
                            status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        except ValidationError as exc:
            return error_response(exc)
        body = receipt_feature(report, request)
        return Response(body,
                        status=status.HTTP_200_OK if getattr(report, "replayed", False) else status.HTTP_201_CREATED)


class ReportDetail(APIView):
    serializer_class = ReportDetailSerializer

    def get(self, request, code):
        report = get_public_report(request, code)
        return Response(ReportDetailSerializer(report, context={"request": request}).data)


class ReportPrivate(APIView):
    """The staff view of one report: adds the reporter's contact and internal events.
    403 for anyone but the report's unit, its province's desk and leaders, admins."""

    @extend_schema(responses={200: ReportDetailSerializer})
    def get(self, request, code):
        report = get_public_report(request, code)
        try:
            access.require_view_private(request.user, report)
        except PermissionDenied as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)
        body = ReportDetailSerializer(report, context={"request": request}).data
        body["properties"]["reporter"] = {
            "name": report.contact_name or (str(report.reporter) if report.reporter_id else ""),
            "phone": report.contact_phone or (report.reporter.phone if report.reporter_id else ""),
            "email": report.contact_email or (report.reporter.email if report.reporter_id else ""),
        }
        body["properties"]["exif_hints"] = [
            {"lat": m.exif_location.y, "lon": m.exif_location.x} for m in report.media.all() if m.exif_location
        ]
        body["properties"]["extension_requested_until"] = report.extension_requested_until
        body["properties"]["extension_reason"] = report.extension_reason
        return Response(body)


class ReportAction(APIView):
    """Apply a workflow action; send the row_version you saw (field or If-Match)."""

    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(request=ActionSerializer, responses={200: ReportDetailSerializer})
    def post(self, request, code, action):
        report = get_public_report(request, code)
        data = _plain(request.data)
        data.pop("photos", None)
        if request.FILES:
            data["photos"] = request.FILES.getlist("photos")
        expected = data.pop("row_version", None)
        if expected in (None, "") and request.headers.get("If-Match"):
            expected = request.headers["If-Match"].strip('"W/ ')
        try:
            report = workflow.transition(report, action, request.user, data, expected_version=expected)
        except (workflow.WorkflowError, ValidationError, PermissionDenied) as exc:
            return workflow_error_response(exc, report)
        report = _report_qs().get(pk=report.pk)
        return Response(ReportDetailSerializer(report, context={"request": request}).data)


class ReportRating(APIView):
    """The reporter rates a published result: level 1..5 and an optional reason."""

    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(request=ActionSerializer, responses={200: ReportDetailSerializer})
    def post(self, request, code):
        report = get_public_report(request, code)
        data = _plain(request.data)
        try:
            report = workflow.transition(report, "rate", request.user, data, expected_version=data.get("row_version"))
        except (workflow.WorkflowError, ValidationError, PermissionDenied) as exc:
            return workflow_error_response(exc, report)
        report = _report_qs().get(pk=report.pk)
        return Response(ReportDetailSerializer(report, context={"request": request}).data)


class ReportComments(APIView):
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(responses={200: CommentSerializer(many=True)})
    def get(self, request, code):
        report = get_public_report(request, code)
        comments = report.comments.filter(is_hidden=False).select_related("authority", "author")
        return Response(CommentSerializer(comments, many=True).data)

    @extend_schema(request=CommentSerializer, responses={201: CommentSerializer})
    def post(self, request, code):
        report = get_public_report(request, code)
        show_name = str(request.data.get("show_name", "")).lower() in ("1", "true", "on", "yes")
        try:
            comment = workflow.add_comment(report, request.user, request.data.get("text"), show_name=show_name)
        except (workflow.WorkflowError, ValidationError, PermissionDenied) as exc:
            return workflow_error_response(exc, report)
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


class ReportFollow(APIView):
    """Follow a report ("same problem? follow it instead"): notified at each step."""

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT, 201: OpenApiTypes.OBJECT})
    def post(self, request, code):
        report = get_public_report(request, code)
        if not request.user.is_authenticated:
            return Response({"detail": _("Hãy đăng nhập để theo dõi phản ánh.")}, status=status.HTTP_403_FORBIDDEN)
        created = notify.follow(report, request.user.pk)
        return Response({"code": report.code, "following": True, "followers": report.subscriptions.count()},
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def delete(self, request, code):
        report = get_public_report(request, code)
        if request.user.is_authenticated:
            notify.unfollow(report, request.user.pk)
        return Response({"code": report.code, "following": False})


class NearbyReports(APIView):
    """Open reports of the same category within ``radius`` metres (default 200)."""

    @extend_schema(parameters=[OpenApiParameter(p, str) for p in ("lat", "lon", "category", "radius")],
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        try:
            point = intake.parse_point(request.query_params)
            radius = float(request.query_params.get("radius") or NEARBY_DEFAULT_M)
            if not (0 < radius <= NEARBY_MAX_M):
                raise ValidationError({"radius": [_("Bán kính từ 1 đến %(max)d m.") % {"max": NEARBY_MAX_M}]})
        except ValueError:
            return error_response(ValidationError({"radius": [_("Bán kính phải là số.")]}))
        except ValidationError as exc:
            return error_response(exc)
        # Index-friendly box in degrees first, then the exact geography distance.
        dlat = radius / 111_000 * 1.01
        dlon = dlat / max(math.cos(math.radians(point.y)), 0.01)
        box = Polygon.from_bbox((point.x - dlon, point.y - dlat, point.x + dlon, point.y + dlat))
        box.srid = 4326
        qs = Report.objects.filter(access.nearby_q(request.user), location__intersects=box)  # open ones (policy.OPEN)
        category = request.query_params.get("category")
        if category:
            qs = qs.filter(category__code=category)
        qs = (
            qs.annotate(distance=Distance("location", Point(point.x, point.y, srid=4326)))
            .filter(distance__lte=D(m=radius))
            .select_related("category", "commune")
            .order_by("distance")[:20]
        )
        results = [
            {
                "code": r.code,
                "category": r.category.code,
                "category_name": r.category.name,
                "state": r.state,
                "state_label": r.get_state_display(),
                "commune_name": r.commune.name if r.commune_id else None,
                "description": r.description[:200],
                "distance_m": round(r.distance.m, 1),
                "followers": r.subscriptions.count(),
                "lon": r.location.x,
                "lat": r.location.y,
            }
            for r in qs
        ]
        return Response({"count": len(results), "radius_m": radius, "results": results})


class RoutePreview(APIView):
    """Before sending: the commune, the authority it will go to and why; for a pin, or
    for a commune chosen without the map (``commune``)."""

    @extend_schema(parameters=[OpenApiParameter(p, str) for p in ("lat", "lon", "category")]
                   + [OpenApiParameter("commune", str, description="Without lat/lon: a commune code (no pin)")],
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        try:
            return Response(intake.preview(request.query_params))
        except ValidationError as exc:
            return error_response(exc)


class PhotoHint(APIView):
    """Before sending: the place a photo was taken (from its EXIF GPS), offered to the
    citizen as a hint for the pin. The photo is checked like an upload and not stored."""

    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": {"type": "object", "properties": {"photo": {"type": "string",
                                                                                    "format": "binary"}}}},
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 429: OpenApiTypes.OBJECT},
    )
    def post(self, request):
        limited = ratelimit.hit("photo-hint", ratelimit.client_ip(request))
        if not limited.allowed:  # before the body is read: each call decodes a photo
            return ratelimit.json_429(limited)
        f = request.FILES.get("photo")
        if f is None:
            return error_response(ValidationError({"photo": [_("Hãy chọn một ảnh.")]}))
        try:
            checked = media.check_photo(f, blur=False)  # a hint only: nothing is stored
        except ValidationError as exc:
            return error_response(ValidationError({"photo": exc.messages}))
        point = checked.exif_location
        return Response({"lat": point.y, "lon": point.x} if point else {"lat": None, "lon": None})


class CategoryList(ListAPIView):
    serializer_class = CategorySerializer
    pagination_class = None
    filterset_class = None

    @extend_schema(parameters=[OpenApiParameter(
        "jurisdiction", str, description="The categories a jurisdiction offers (the shared ones and its own): "
        "22, boston, VN. Unknown: 400")])
    def get(self, request, *args, **kwargs):
        try:
            return super().get(request, *args, **kwargs)
        except ValidationError as exc:
            return error_response(exc)

    def get_queryset(self):
        code = (self.request.query_params.get("jurisdiction") or "").strip()
        if not code:
            return Category.objects.filter(active=True).select_related("parent")
        from boundaries import jurisdictions

        try:
            found = jurisdictions.require(code, active_only=True)
        except jurisdictions.UnknownJurisdiction as exc:
            raise ValidationError({"jurisdiction": [str(exc)]}) from None
        return Category.offered_in(found).filter(active=True).select_related("parent")
