"""Filter forms of the report pages (the intake itself posts to intake.create_report)."""

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from geo_portal.dates import filter_date_error
from reports.models import Category, Report


def category_choices():
    choices = [("", _("Tất cả lĩnh vực"))]
    for group in Category.objects.filter(parent__isnull=True, active=True).prefetch_related("children"):
        choices.append((group.code, group.name))
        for child in group.children.all():
            if child.active:
                choices.append((child.code, f"— {child.name}"))
    return choices


DEMO_PROVINCE_CODES = ("22", "46", "11", "96")


def commune_choices():
    """Communes of the demo provinces in the current boundary version, grouped by province
    (the whole country would be 3,321 options: too heavy for a phone)."""
    from boundaries.models import Area, BoundaryVersion

    groups = {}
    rows = (Area.objects.filter(version=BoundaryVersion.objects.current(), type__code="commune",
                               parent__code__in=DEMO_PROVINCE_CODES)
            .order_by("parent__name", "name").values_list("parent__name", "code", "name"))
    for province, code, name in rows:
        groups.setdefault(province, []).append((code, name))
    return [("", _("Tất cả xã/phường"))] + list(groups.items())


class ReportFilterForm(forms.Form):
    category = forms.ChoiceField(label=_("Lĩnh vực"), required=False)
    state = forms.ChoiceField(label=_("Trạng thái"), required=False)
    commune = forms.ChoiceField(label=_("Xã/phường"), required=False)
    date_from = forms.DateField(label=_("Từ ngày"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("Đến ngày"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, states=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = category_choices()
        self.fields["commune"].choices = commune_choices()
        states = states or [s for s, _label in Report.State.choices]
        labels = dict(Report.State.choices)
        self.fields["state"].choices = [("", _("Tất cả trạng thái"))] + [(s, labels[s]) for s in states]

    def _day_in_range(self, name):
        day = self.cleaned_data.get(name)
        if day and filter_date_error(day):
            raise forms.ValidationError(filter_date_error(day))
        return day

    def clean_date_from(self):
        return self._day_in_range("date_from")

    def clean_date_to(self):
        return self._day_in_range("date_to")

    def apply(self, qs):
        """The filters whose values are valid (a bad one is shown as a field error and left out)."""
        self.is_valid()
        d = getattr(self, "cleaned_data", {})
        if d.get("category"):
            qs = qs.filter(Q(category__code=d["category"]) | Q(category__parent__code=d["category"]))
        if d.get("state"):
            qs = qs.filter(state=d["state"])
        if d.get("commune"):
            qs = qs.filter(commune__code=d["commune"].strip())
        if d.get("date_from"):
            qs = qs.filter(created_at__date__gte=d["date_from"])
        if d.get("date_to"):
            qs = qs.filter(created_at__date__lte=d["date_to"])
        return qs


def jurisdiction_choices():
    from boundaries.models import Jurisdiction

    rows = Jurisdiction.objects.filter(active=True).exclude(kind=Jurisdiction.Kind.COUNTRY).order_by("country", "name")
    return [("", _("Việt Nam"))] + [(j.code, j.name) for j in rows]


class PublicFilterForm(ReportFilterForm):
    """The public list and map: also by jurisdiction; without one, Vietnam only, as on
    every other map (boundaries.jurisdictions.scope)."""

    jurisdiction = forms.CharField(label=_("Vùng tài phán"), required=False, max_length=60)

    field_order = ["jurisdiction"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["jurisdiction"].widget = forms.Select(choices=jurisdiction_choices())

    def clean_jurisdiction(self):
        from boundaries import jurisdictions

        code = (self.cleaned_data.get("jurisdiction") or "").strip()
        if not code:
            return None
        try:
            return jurisdictions.require(code, active_only=True)
        except jurisdictions.UnknownJurisdiction as exc:
            raise forms.ValidationError(str(exc)) from None

    def apply(self, qs):
        from boundaries import jurisdictions

        qs = super().apply(qs)
        # A bad code is a field error (400) and scopes nothing beyond the default.
        codes_in, codes_not_in = jurisdictions.scope(getattr(self, "cleaned_data", {}).get("jurisdiction"))
        if codes_in is not None:
            return qs.filter(province_code__in=codes_in)
        return qs.exclude(province_code__in=codes_not_in) if codes_not_in else qs


class QueueFilterForm(ReportFilterForm):
    overdue = forms.BooleanField(label=_("Chỉ quá hạn"), required=False)
