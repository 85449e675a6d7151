"""API representations. Public ones never carry the reporter's name, phone, e-mail or
account, nor internal events; text is returned as plain JSON strings (never HTML)."""

from django.contrib.auth.models import AnonymousUser
from rest_framework import serializers
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from reports import policy, sla
from reports.models import Category, Comment, Media, Report, ReportEvent
from reports.policy import access


def _local_iso(value, province_code=""):
    """ISO 8601 with the offset of the report's jurisdiction (Vietnam's, or Boston's)."""
    return value.astimezone(sla.zone_of_province_code(province_code)).isoformat() if value else None


class CategorySerializer(serializers.ModelSerializer):
    group = serializers.CharField(source="parent.code", default=None, allow_null=True, read_only=True)
    forward_days = serializers.SerializerMethodField()
    resolve_days = serializers.SerializerMethodField()

    class Meta:
        model = Category
        fields = ["code", "name", "name_en", "group", "icon", "color", "forward_days", "resolve_days"]

    def get_forward_days(self, obj) -> int:
        return sla.forward_days(obj)

    def get_resolve_days(self, obj) -> int:
        return sla.resolve_days(obj)


class MediaSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = Media
        fields = ["id", "kind", "stage", "url", "thumbnail_url", "content_type", "width", "height", "duration_s"]

    def _abs(self, f):
        if not f:
            return None
        request = self.context.get("request")
        # "?t=…" for the reporter who holds only the receipt token (policy.access.media_query)
        url = f.url + self.context.get("media_query", "")
        return request.build_absolute_uri(url) if request else url

    def get_url(self, obj) -> str | None:
        return self._abs(obj.file)

    def get_thumbnail_url(self, obj) -> str | None:
        return self._abs(obj.thumbnail)


class EventSerializer(serializers.ModelSerializer):
    label = serializers.SerializerMethodField()
    authority = serializers.CharField(source="authority.name", default=None, allow_null=True, read_only=True)
    to_state_label = serializers.SerializerMethodField()
    reason_label = serializers.SerializerMethodField()

    class Meta:
        model = ReportEvent
        fields = ["action", "label", "from_state", "to_state", "to_state_label", "actor_role", "authority",
                  "reason_code", "reason_label", "reason", "created_at"]

    def get_label(self, obj) -> str:
        from reports.workflow import ACTION_LABELS

        return str(ACTION_LABELS.get(obj.action, obj.action))

    def get_to_state_label(self, obj) -> str:
        return str(Report.State(obj.to_state).label) if obj.to_state in Report.State.values else obj.to_state

    def get_reason_label(self, obj) -> str:
        return str(Report.RejectReason(obj.reason_code).label) if obj.reason_code in Report.RejectReason.values else ""


class CommentSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()
    official = serializers.SerializerMethodField()

    class Meta:
        model = Comment
        fields = ["id", "author", "official", "text", "show_name", "created_at"]

    def get_author(self, obj) -> str:
        return str(access.comment_author_label(obj))

    def get_official(self, obj) -> bool:
        return bool(obj.authority_id)


class ReportFeatureSerializer(GeoFeatureModelSerializer):
    """One report as a GeoJSON Feature: the public fields only."""

    category = serializers.CharField(source="category.code", read_only=True)
    category_name = serializers.CharField(source="category.name", read_only=True)
    state_label = serializers.CharField(source="get_state_display", read_only=True)
    commune = serializers.CharField(source="commune.code", default=None, allow_null=True, read_only=True)
    commune_name = serializers.CharField(source="commune.name", default=None, allow_null=True, read_only=True)
    location_precision = serializers.ChoiceField(
        choices=Report.LocationPrecision.choices, read_only=True,
        help_text="point: a pin on the map; commune: no pin, the citizen chose the commune (the geometry is a "
                  "point inside it) and described the place in `address`")
    authority = serializers.CharField(source="authority.code", default=None, allow_null=True, read_only=True)
    authority_name = serializers.CharField(source="authority.name", default=None, allow_null=True, read_only=True)
    created_at = serializers.SerializerMethodField()
    forward_due = serializers.SerializerMethodField()
    resolve_due = serializers.SerializerMethodField()
    overdue = serializers.SerializerMethodField()
    result_text = serializers.SerializerMethodField()

    class Meta:
        model = Report
        geo_field = "location"
        id_field = "code"
        fields = ["code", "title", "description", "category", "category_name", "state", "state_label",
                  "commune", "commune_name", "location_precision", "province_code", "authority", "authority_name",
                  "created_at", "forward_due", "resolve_due", "overdue", "result_text", "rating_level", "row_version"]

    def to_representation(self, instance):
        feature = super().to_representation(instance)
        # The code is the Feature's id and stays among the properties too.
        feature["properties"] = {"code": feature["id"], **feature["properties"]}
        return feature

    def get_created_at(self, obj) -> str | None:
        return _local_iso(obj.created_at, obj.province_code)

    def get_forward_due(self, obj) -> str | None:
        return _local_iso(obj.forward_due, obj.province_code)

    def get_resolve_due(self, obj) -> str | None:
        return _local_iso(obj.resolve_due, obj.province_code)

    def get_overdue(self, obj) -> bool:
        return policy.is_overdue(obj)

    def get_result_text(self, obj) -> str | None:
        return obj.result_text if obj.state in policy.RESULT_PUBLIC else None


class ReportReceiptSerializer(ReportFeatureSerializer):
    """What POST /api/v1/reports answers: the public fields, the routing explanation and
    the stored media (the full timeline is at GET /api/v1/reports/<code>)."""

    media = serializers.SerializerMethodField()
    routing_explanation = serializers.CharField(read_only=True)
    # Keep it: with it the report is reached by its code before it is public (?t=… or
    # the X-Receipt-Token header); receipt_url is the reporter's link to its page.
    receipt_token = serializers.CharField(read_only=True)
    receipt_url = serializers.SerializerMethodField()

    class Meta(ReportFeatureSerializer.Meta):
        fields = ReportFeatureSerializer.Meta.fields + ["address", "routing_explanation", "media", "receipt_token",
                                                        "receipt_url"]

    def get_receipt_url(self, obj) -> str:
        return receipt_url(obj, self.context.get("request"))

    def get_media(self, obj) -> list:
        items = getattr(obj, "stored_media", None)
        if items is None:
            items = obj.media.all()
        return MediaSerializer(items, many=True, context={**self.context, "media_query": _receipt_media_query(
            obj, self.context.get("request"))}).data


def _receipt_media_query(report, request):
    """The receipt's media URLs carry its token: its sender may not be signed in."""
    user = getattr(request, "user", None) or AnonymousUser()
    return access.media_query(user, report, report.receipt_token)


def receipt_url(report, request=None):
    """The reporter's link to the report's page: reaches it before it is public."""
    from django.urls import reverse
    from django.utils.http import urlencode

    url = reverse("report-public", kwargs={"code": report.code}) + "?" + urlencode({"t": report.receipt_token})
    return request.build_absolute_uri(url) if request is not None else url


def receipt_feature(report, request=None):
    """ReportReceiptSerializer's output built by hand: the create endpoint answers every
    submission, and DRF's ModelSerializer rebuilds its fields per call (~4 ms of CPU)."""
    category, commune, authority = report.category, report.commune, report.authority
    items = getattr(report, "stored_media", None)
    if items is None:
        items = list(report.media.all())
    properties = {
        "code": report.code,
        "title": report.title,
        "description": report.description,
        "category": category.code,
        "category_name": category.name,
        "state": report.state,
        "state_label": str(Report.State(report.state).label),
        "commune": commune.code if commune else None,
        "commune_name": commune.name if commune else None,
        "location_precision": report.location_precision,
        "province_code": report.province_code,
        "authority": authority.code if authority else None,
        "authority_name": authority.name if authority else None,
        "created_at": _local_iso(report.created_at, report.province_code),
        "forward_due": _local_iso(report.forward_due, report.province_code),
        "resolve_due": _local_iso(report.resolve_due, report.province_code),
        "overdue": policy.is_overdue(report),
        "result_text": report.result_text if report.state in policy.RESULT_PUBLIC else None,
        "rating_level": report.rating_level,
        "row_version": report.row_version,
        "address": report.address,
        "routing_explanation": report.routing_explanation,
        "media": MediaSerializer(items, many=True, context={
            "request": request, "media_query": _receipt_media_query(report, request)}).data if items else [],
        "receipt_token": report.receipt_token,
        "receipt_url": receipt_url(report, request),
    }
    return {
        "id": report.code,
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [report.location.x, report.location.y]},
        "properties": properties,
    }


class ReportDetailSerializer(ReportFeatureSerializer):
    """A report's public page as a Feature: timeline, official replies, photos."""

    timeline = serializers.SerializerMethodField()
    media = serializers.SerializerMethodField()
    comments = serializers.SerializerMethodField()
    routing_explanation = serializers.CharField(read_only=True)
    merged_into = serializers.CharField(source="merged_into.code", default=None, allow_null=True, read_only=True)
    reject_reason_label = serializers.SerializerMethodField()
    allowed_actions = serializers.SerializerMethodField()

    class Meta(ReportFeatureSerializer.Meta):
        fields = ReportFeatureSerializer.Meta.fields + [
            "address", "routing_explanation", "merged_into", "reject_reason", "reject_reason_label",
            "timeline", "media", "comments", "allowed_actions",
        ]

    def _private(self, obj):
        request = self.context.get("request")
        return bool(request and access.can_view_private(request.user, obj))

    def get_timeline(self, obj) -> list:
        events = obj.events.select_related("authority")
        if not self._private(obj):
            events = events.filter(is_public=True)
        return EventSerializer(events, many=True).data

    def get_media(self, obj) -> list:
        request = self.context.get("request")
        user = request.user if request else AnonymousUser()
        items = access.visible_media(user, obj)
        query = access.media_query(user, obj, access.receipt_token_of(request)) if request else ""
        return MediaSerializer(items, many=True, context={**self.context, "media_query": query}).data

    def get_comments(self, obj) -> list:
        comments = obj.comments.filter(is_hidden=False).select_related("authority", "author")
        return CommentSerializer(comments, many=True).data

    def get_reject_reason_label(self, obj) -> str:
        return str(obj.get_reject_reason_display()) if obj.reject_reason else ""

    def get_allowed_actions(self, obj) -> list:
        from reports.workflow import allowed_actions

        request = self.context.get("request")
        return allowed_actions(obj, request.user) if request else []


class ReportCreateSerializer(serializers.Serializer):
    """Documents the multipart form of POST /api/v1/reports (validation is in intake)."""

    category = serializers.CharField(help_text="Category code, e.g. dien-mat-dien")
    lat = serializers.FloatField(required=False, help_text="The pin (with lon). Required unless `commune` is given")
    lon = serializers.FloatField(required=False)
    commune = serializers.CharField(
        required=False, max_length=40,
        help_text="Without a pin: the official code of the commune in the boundary version in force (e.g. 06673); "
                  "the report is placed at a point inside it, location_precision \"commune\". Ignored when lat/lon "
                  "are given; an unknown code or one of another version is a 400 on `commune`")
    description = serializers.CharField(max_length=5000)
    title = serializers.CharField(required=False)
    address = serializers.CharField(required=False, max_length=300,
                                    help_text="The place in words, e.g. \"trước số nhà 12 phố Lê Thánh Tông\"")
    contact_name = serializers.CharField(required=False)
    contact_phone = serializers.CharField(required=False)
    contact_email = serializers.EmailField(required=False)
    photos = serializers.ListField(child=serializers.FileField(), required=False)
    video = serializers.FileField(required=False)
    idempotency_key = serializers.CharField(required=False, help_text="Or the Idempotency-Key header")


class ActionSerializer(serializers.Serializer):
    """Documents POST /api/v1/reports/<code>/actions/<action>; fields depend on the action."""

    row_version = serializers.IntegerField(required=False, help_text="The row_version the client saw")
    reason_code = serializers.CharField(required=False)
    reason = serializers.CharField(required=False)
    authority = serializers.CharField(required=False)
    into = serializers.CharField(required=False)
    category = serializers.CharField(required=False)
    lat = serializers.FloatField(required=False)
    lon = serializers.FloatField(required=False)
    until = serializers.CharField(required=False)
    result_text = serializers.CharField(required=False)
    photos = serializers.ListField(child=serializers.FileField(), required=False)
    level = serializers.IntegerField(required=False)
    media = serializers.IntegerField(required=False, help_text="edit_blur, review_video: the photo's or video's id")
    regions = serializers.JSONField(
        required=False,
        help_text="edit_blur: every region to blur from now on, a list of {x, y, w, h} relative to the photo "
                  "(0..1) with an optional kind (face, plate, manual); a JSON list or its text")
