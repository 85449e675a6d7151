"""Atom and RSS feeds: an area's public reports, a report's public timeline, the public
reports within a radius. Only ``policy.PUBLIC`` reports, only public events, never the
reporter. Built on Django's syndication framework (Atom 1.0: feed id/title/updated/
author, entry id/title/updated/link)."""

from django.contrib.gis.geos import Point
from django.contrib.syndication.views import Feed
from django.db.models import BooleanField, F
from django.db.models.expressions import RawSQL
from django.http import Http404
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed
from django.utils.translation import gettext as _

from alerts.subscriptions import MAX_RADIUS_M
from boundaries.models import Area
from reports import policy
from reports.models import Report

LIMIT = 50
FORMATS = {"atom": Atom1Feed, "rss": Rss201rev2Feed}


class BadParameter(Exception):
    def __init__(self, field, message):
        super().__init__(message)
        self.field, self.message = field, message


class _FormatFeed(Feed):
    """A feed answered as Atom or RSS by the URL's suffix."""

    author_name = "geo_portal"

    def __call__(self, request, *args, fmt="atom", **kwargs):
        if fmt not in FORMATS:
            raise Http404
        self.feed_type = FORMATS[fmt]
        return super().__call__(request, *args, **kwargs)


class _ReportsFeed(_FormatFeed):

    def reports(self, obj):
        raise NotImplementedError

    def items(self, obj):
        return list(self.reports(obj).filter(policy.PUBLIC.q())
                    .select_related("category", "commune").order_by("-created_at")[:LIMIT])

    def item_title(self, r):
        return f"{r.code} — {r.category.name}" + (f" — {r.commune.name}" if r.commune_id else "")

    def item_description(self, r):
        parts = [r.get_state_display(), r.title or r.description[:300]]
        if r.state in policy.RESULT_PUBLIC and r.result_text:
            parts.append(_("Kết quả: %(text)s") % {"text": r.result_text[:300]})
        return " — ".join(p for p in parts if p)

    def item_link(self, r):
        return reverse("report-public", args=[r.code])

    def item_guid(self, r):
        return f"tag:geo_portal,2026:report:{r.code}"

    item_guid_is_permalink = False

    def item_pubdate(self, r):
        return (r.published_at if r.state in policy.RESULT_PUBLIC and r.published_at
                else (r.forwarded_at or r.created_at))

    def item_updateddate(self, r):
        return r.updated_at

    def item_categories(self, r):
        return [r.category.name]


class AreaFeed(_ReportsFeed):
    def get_object(self, request, code):
        area = (Area.objects.filter(code=code, version__active=True)
                .order_by(F("version__valid_from").desc(nulls_last=True), "-version_id", "id")
                .select_related("type").first())
        if area is None:
            raise Http404
        return area

    def title(self, area):
        return _("Phản ánh hiện trường tại %(name)s") % {"name": area.name}

    def link(self, area):
        return reverse("report-list")

    def feed_guid(self, area):
        return f"tag:geo_portal,2026:area:{area.version.code}:{area.type.code}:{area.code}"

    def description(self, area):
        return self.title(area)

    def reports(self, area):
        return Report.objects.filter(location__coveredby=area.geom)


class NearFeed(_ReportsFeed):
    def get_object(self, request):
        def number(name, low, high, default=None):
            raw = request.GET.get(name, default)
            try:
                value = float(raw)
            except (TypeError, ValueError):
                raise BadParameter(name, _("Tham số %(name)s phải là một số.") % {"name": name}) from None
            if not low <= value <= high:
                raise BadParameter(name, _("Tham số %(name)s phải từ %(low)s đến %(high)s.")
                                   % {"name": name, "low": low, "high": high})
            return value

        return (number("lat", -90, 90), number("lon", -180, 180), number("r", 1, MAX_RADIUS_M, 1000))

    def title(self, obj):
        lat, lon, r = obj
        return _("Phản ánh hiện trường trong bán kính %(r).0f m quanh %(lat).5f, %(lon).5f") % {"r": r, "lat": lat,
                                                                                                "lon": lon}

    def link(self, obj):
        return reverse("report-list")

    def feed_guid(self, obj):
        return "tag:geo_portal,2026:near:{:.6f},{:.6f},{:.0f}".format(*obj)

    def description(self, obj):
        return self.title(obj)

    def reports(self, obj):
        lat, lon, r = obj
        point = Point(lon, lat, srid=4326)
        return Report.objects.filter(RawSQL(
            "ST_DWithin(reports_report.location::geography, ST_GeomFromEWKB(%s)::geography, %s)",
            (bytes(point.ewkb), r), output_field=BooleanField()))


class ReportFeed(_FormatFeed):
    """A public report's timeline: its public events, newest first."""

    def get_object(self, request, code):
        report = Report.objects.filter(policy.PUBLIC.q(), code=code).select_related("category").first()
        if report is None:
            raise Http404
        return report

    def title(self, r):
        return _("Phản ánh %(code)s — %(category)s") % {"code": r.code, "category": r.category.name}

    def link(self, r):
        return reverse("report-public", args=[r.code])

    def feed_guid(self, r):
        return f"tag:geo_portal,2026:report:{r.code}"

    def description(self, r):
        return self.title(r)

    def items(self, r):
        return list(r.events.filter(is_public=True).order_by("-created_at", "-id")[:LIMIT])

    def item_title(self, ev):
        return Report.State(ev.to_state).label if ev.to_state in Report.State.values else ev.action

    def item_description(self, ev):
        # The reasons and notes staff write are not shown here: only the step.
        return _("Phản ánh %(code)s chuyển sang trạng thái: %(state)s") % {
            "code": ev.report.code, "state": self.item_title(ev)}

    def item_link(self, ev):
        return reverse("report-public", args=[ev.report.code]) + f"#e{ev.pk}"

    def item_guid(self, ev):
        return f"tag:geo_portal,2026:event:{ev.pk}"

    item_guid_is_permalink = False

    def item_pubdate(self, ev):
        return ev.created_at

    def item_updateddate(self, ev):
        return ev.created_at
