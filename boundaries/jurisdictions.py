"""Jurisdictions: look-up by the code a client sends, the one a report belongs to, and
the scope of the national views.

A filter by jurisdiction maps onto the ``province_code`` column that reports, their
roll-ups and their tile points all carry: a province or a city is its own code; the
home country is "every code but those of other countries' jurisdictions", so a
Vietnamese province without a Jurisdiction row of its own still counts nationally.
"""

import time

from django.db.models import Q
from django.utils.translation import gettext as _

from boundaries.models import Area, Jurisdiction

# The country of the national dashboard, ranking and wall.
HOME_COUNTRY = "VN"
DEFAULT_CALENDAR = "VN"
DEFAULT_TIME_ZONE = "Asia/Ho_Chi_Minh"

# (code, name, name_en, kind, country, parent, province_code, boundary_key, time zone, calendar)
SEED = (
    ("VN", "Việt Nam", "Viet Nam", "country", "VN", None, "", "VN", "Asia/Ho_Chi_Minh", "VN"),
    ("22", "Tỉnh Quảng Ninh", "Quang Ninh Province", "province", "VN", "VN", "22", "", "Asia/Ho_Chi_Minh", "VN"),
    ("46", "Thành phố Huế", "Hue City", "province", "VN", "VN", "46", "", "Asia/Ho_Chi_Minh", "VN"),
    ("11", "Tỉnh Điện Biên", "Dien Bien Province", "province", "VN", "VN", "11", "", "Asia/Ho_Chi_Minh", "VN"),
    ("96", "Tỉnh Cà Mau", "Ca Mau Province", "province", "VN", "VN", "96", "", "Asia/Ho_Chi_Minh", "VN"),
    ("boston", "Boston", "Boston", "city", "US", None, "US-MA-BOS", "US-MA-BOS", "America/New_York", "US-MA"),
)


def ensure_jurisdictions(model=Jurisdiction):
    """Create the seeded jurisdictions that are missing (admins' edits are kept);
    returns how many were created. ``model`` lets a data migration pass its own."""
    created = 0
    by_code = {}
    for code, name, name_en, kind, country, parent, pcode, bkey, tz, cal in SEED:
        obj, new = model.objects.get_or_create(code=code, defaults={
            "name": name, "name_en": name_en, "kind": kind, "country": country,
            "parent": by_code.get(parent), "province_code": pcode, "boundary_key": bkey,
            "time_zone": tz, "calendar": cal,
        })
        by_code[code] = obj
        created += new
    return created


def get(code):
    """The jurisdiction a client names: its code ("22", "boston", "VN", any case) or
    the code its reports carry ("US-MA-BOS"); None if there is none."""
    code = (code or "").strip()
    if not code or len(code) > 60:
        return None
    return (
        Jurisdiction.objects.filter(Q(code__iexact=code) | Q(province_code__iexact=code))
        .select_related("parent").order_by("kind").first()
    )


class UnknownJurisdiction(ValueError):
    """A client named a jurisdiction there is none of; the text is the field's message."""


def require(code, active_only=False):
    """get(code), or UnknownJurisdiction with the translated message every filter shows
    (``active_only``: a jurisdiction switched off counts as unknown)."""
    found = get(code)
    if found is None or (active_only and not found.active):
        raise UnknownJurisdiction(_("Không có vùng tài phán mã %(code)s.") % {"code": str(code or "").strip()[:60]})
    return found


_cache = {"at": 0.0, "rows": {}}
CACHE_SECONDS = 60


def clear_cache(**kwargs):
    """Forget the rows kept; the minute of those read next starts now."""
    _cache["rows"], _cache["at"] = {}, time.monotonic()


def _kept_rows():
    """The rows kept in this process, emptied when their minute has passed."""
    if time.monotonic() - _cache["at"] > CACHE_SECONDS:
        clear_cache()
    return _cache["rows"]


def for_province_code(code):
    """The jurisdiction of reports located with this province code (blank: the home
    country). A Vietnamese province without a row gets one, named after its area.
    Rows found are kept in this process for a minute (an intake asks every time)."""
    kept = _kept_rows()
    hit = kept.get(code or "")
    if hit is not None:
        return hit
    found = _for_province_code(code)
    if found is not None and not getattr(found, "_just_created", False):
        kept[code or ""] = found
    return found


def _for_province_code(code):
    if not code:
        return Jurisdiction.objects.filter(code=HOME_COUNTRY).first()
    found = Jurisdiction.objects.filter(province_code=code).first()
    if found is not None:
        return found
    area = Area.objects.filter(code=code, type__code="province").defer("geom").order_by("-version__valid_from").first()
    if area is None:
        return Jurisdiction.objects.filter(code=HOME_COUNTRY).first()
    home = Jurisdiction.objects.filter(code=HOME_COUNTRY).first()
    obj, created = Jurisdiction.objects.get_or_create(code=code, defaults={
        "name": area.name, "name_en": area.name_en, "kind": Jurisdiction.Kind.PROVINCE, "country": HOME_COUNTRY,
        "parent": home, "province_code": code, "time_zone": DEFAULT_TIME_ZONE, "calendar": DEFAULT_CALENDAR,
    })
    obj._just_created = created
    return obj


def foreign_codes(country=HOME_COUNTRY):
    """Province codes of the jurisdictions of other countries ("US-MA-BOS"). Every map
    request asks: kept a minute in this process, like the rows above."""
    kept = _kept_rows()
    key = ("foreign", country)
    if key not in kept:
        kept[key] = sorted(
            Jurisdiction.objects.exclude(country=country).exclude(province_code="")
            .values_list("province_code", flat=True)
        )
    return list(kept[key])


def scope(jurisdiction=None):
    """(codes_in, codes_not_in) on ``province_code`` for a jurisdiction; None: the home
    country. Exactly one of the two is a list, the other None."""
    if jurisdiction is None:
        return None, foreign_codes(HOME_COUNTRY)
    if jurisdiction.province_code:
        return [jurisdiction.province_code], None
    if jurisdiction.country == HOME_COUNTRY and jurisdiction.parent_id is None:
        return None, foreign_codes(HOME_COUNTRY)
    return sorted(set(jurisdiction.province_codes())), None

