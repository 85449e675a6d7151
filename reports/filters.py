"""Filters of the report list: bbox, category (or group), state, commune, province,
authority, jurisdiction, date range (local dates), overdue."""

import datetime as dt

import django_filters
from django.contrib.gis.geos import Polygon
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _

from boundaries import jurisdictions
from geo_portal.dates import filter_date_error
from reports import policy, sla
from reports.models import Report


def _local_start(day):
    return dt.datetime.combine(day, dt.time.min, tzinfo=sla.LOCAL_TZ)


def _check_day(name, value):
    error = filter_date_error(value)
    if error:
        raise ValidationError({name: [error]})


class ReportFilter(django_filters.FilterSet):
    bbox = django_filters.CharFilter(method="filter_bbox", label="min_lon,min_lat,max_lon,max_lat")
    category = django_filters.CharFilter(method="filter_category", label="category or group code")
    state = django_filters.CharFilter(method="filter_state", label="state[,state…] (or a group: open, closed…)")
    commune = django_filters.CharFilter(field_name="commune__code")
    province = django_filters.CharFilter(field_name="province_code")
    authority = django_filters.CharFilter(field_name="authority__code")
    jurisdiction = django_filters.CharFilter(method="filter_jurisdiction", label="jurisdiction: 22, boston, VN")
    date_from = django_filters.DateFilter(method="filter_date_from")
    date_to = django_filters.DateFilter(method="filter_date_to")
    overdue = django_filters.BooleanFilter(method="filter_overdue")

    class Meta:
        model = Report
        fields = []

    def filter_bbox(self, qs, name, value):
        try:
            parts = [float(p) for p in value.split(",")]
            if len(parts) != 4:
                raise ValueError
            x0, y0, x1, y1 = parts
            if not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
                raise ValueError
        except ValueError:
            raise ValidationError(
                {"bbox": [_("bbox phải là 4 số: kinh độ nhỏ, vĩ độ nhỏ, kinh độ lớn, vĩ độ lớn.")]}) from None
        return qs.filter(location__intersects=Polygon.from_bbox((x0, y0, x1, y1)))

    def filter_jurisdiction(self, qs, name, value):
        try:
            j = jurisdictions.require(value)
        except jurisdictions.UnknownJurisdiction as exc:
            raise ValidationError({"jurisdiction": [str(exc)]}) from None
        # On province_code, like the maps and statistics (boundaries.jurisdictions.scope):
        # a province or a city is its code; Vietnam is every code but other countries'.
        codes_in, codes_not_in = jurisdictions.scope(j)
        if codes_in is not None:
            return qs.filter(province_code__in=codes_in)
        return qs.exclude(province_code__in=codes_not_in or [])

    def filter_category(self, qs, name, value):
        return qs.filter(Q(category__code=value) | Q(category__parent__code=value))

    def filter_state(self, qs, name, value):
        states = [s.strip() for s in value.split(",") if s.strip()]
        bad = [s for s in states if s not in policy.ALL and s not in policy.GROUPS]
        if bad:
            raise ValidationError({"state": [_("Trạng thái không hợp lệ: %(s)s.") % {"s": ", ".join(bad)}]})
        return qs.filter(state__in=policy.expand(states))

    def filter_date_from(self, qs, name, value):
        _check_day(name, value)
        return qs.filter(created_at__gte=_local_start(value))

    def filter_date_to(self, qs, name, value):
        _check_day(name, value)
        return qs.filter(created_at__lt=_local_start(value + dt.timedelta(days=1)))

    def filter_overdue(self, qs, name, value):
        if value is None:
            return qs
        return qs.filter(policy.overdue_q()) if value else qs.exclude(policy.overdue_q())
