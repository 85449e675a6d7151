"""Routing: which authority acts on a report of some category at some place.

``route(areas, category_codes)`` tries the active ``RoutingRule`` rows in order
(priority, id); the first that matches AND yields an authority wins.

A rule matches when
- its ``category_code`` is empty (any category) or one of ``category_codes`` (the
  category's own code, then its group's — ``Category.codes_for_routing()``), and
- its place matches:
  - ``area`` set: the area is one of the located areas or an ancestor of one (a
    province rule covers all its communes). Province codes are stable across boundary
    versions, so a rule on province "22" of vn-2025 also covers a point located in
    province "22" of vn-2009;
  - ``area_type`` set: a located area has that type (the matched area is that one);
  - neither: anywhere (the matched area is the finest located area).

The target is the rule's fixed ``authority``, or with ``target_kind`` the active
authority of that kind whose jurisdiction is the matched area (for a rule without a
place: the finest located area that has one). A rule whose target cannot be found
(e.g. no committee for an area of an old boundary version) is passed over and the next
rule is tried; the explanation of the result says so.

Rules are read in ONE query (with their authority, area and area type); a request that
routes several times may pass ``rules=load_rules()`` to reuse them.

``route_cached(areas, category_codes)`` is the hot path (intake, re-routing): this
process keeps the rules (without their areas' geometry) and the routes it computed for
``settings.ROUTING_RULES_CACHE_SECONDS``, outside transactions only; saving or deleting
a rule or an authority clears both (``clear_cache``, connected in
``BoundariesConfig.ready()``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.utils.translation import gettext as _

from boundaries.models import Area, Authority, RoutingRule

# Codes of an area type whose area codes mean the same thing in every boundary version.
STABLE_CODE_TYPES = {"province"}


@dataclass
class RouteResult:
    authority: Authority | None
    rule: RoutingRule | None
    area: Area | None  # the area the rule matched on
    explanation: str


def load_rules() -> list[RoutingRule]:
    return list(
        RoutingRule.objects.filter(active=True)
        .select_related("authority", "area__type", "area_type")
        .defer("area__geom", "area__properties")  # a province's polygon is megabytes
        .order_by("priority", "id")
    )


def _lineage(areas: list[Area]) -> list[Area]:
    """The located areas and all their ancestors, finest first; parents not among
    ``areas`` are fetched (a locate() result already holds every level: no query)."""
    by_id = {a.id: a for a in areas}
    missing = {a.parent_id for a in areas if a.parent_id and a.parent_id not in by_id}
    while missing:
        fetched = list(Area.objects.filter(id__in=missing).select_related("type").defer("geom"))
        for a in fetched:
            by_id[a.id] = a
        missing = {a.parent_id for a in fetched if a.parent_id and a.parent_id not in by_id}
    return sorted(by_id.values(), key=lambda a: -a.type.level)


# Vietnamese unit names often carry their kind already ("Phường Bãi Cháy").
_UNIT_PREFIXES = ("tỉnh", "thành phố", "quận", "huyện", "thị xã", "phường", "xã", "thị trấn", "đặc khu", "ward")


def _area_label(area: Area) -> str:
    type_name = area.type.name
    if area.name.lower().startswith((type_name.lower(), *_UNIT_PREFIXES)):
        return area.name
    return f"{type_name.lower()} {area.name}"


def _place_match(rule: RoutingRule, lineage: list[Area]) -> tuple[bool, Area | None]:
    if rule.area_id:
        for area in lineage:
            if area.id == rule.area_id:
                return True, area
        if rule.area.type.code in STABLE_CODE_TYPES:
            for area in lineage:
                if area.type_id == rule.area.type_id and area.code == rule.area.code:
                    return True, area
        return False, None
    if rule.area_type_id:
        for area in lineage:
            if area.type_id == rule.area_type_id:
                return True, area
        return False, None
    return True, (lineage[0] if lineage else None)


def _authorities_by_place(kinds=None, areas=None) -> dict:
    """{(kind, jurisdiction area id): the active authority of that kind there}; of two,
    the older (lower id)."""
    qs = Authority.objects.filter(active=True, jurisdiction__isnull=False)
    if kinds is not None:
        qs = qs.filter(kind__in=kinds)
    if areas is not None:
        qs = qs.filter(jurisdiction__in=areas)
    return {(auth.kind, auth.jurisdiction_id): auth for auth in qs.order_by("-id")}


def _target(rule: RoutingRule, area: Area | None, lineage: list[Area], by_place=None
            ) -> tuple[Authority | None, Area | None]:
    if rule.authority_id:
        if rule.authority.active:
            return rule.authority, area
        return None, area
    candidates = [area] if (rule.area_id or rule.area_type_id) else lineage
    candidates = [a for a in candidates if a is not None]
    if not candidates:
        return None, area
    if by_place is None:
        by_place = _authorities_by_place([rule.target_kind], candidates)
    found = {a.id: by_place[(rule.target_kind, a.id)] for a in candidates if (rule.target_kind, a.id) in by_place}
    for a in candidates:
        if a.id in found:
            return found[a.id], a
    return None, area


def route(areas: list[Area], category_codes: list[str], rules: list[RoutingRule] | None = None,
          by_place=None) -> RouteResult:
    """The authority responsible for a report of ``category_codes`` at ``areas`` (the
    areas of a locate() result). See the module docstring. ``by_place``: the
    authorities by (kind, jurisdiction) when the caller holds them (route_cached)."""
    codes = [c for c in (category_codes or []) if c]
    lineage = _lineage([a for a in (areas or []) if a is not None])
    skipped = []
    for rule in load_rules() if rules is None else rules:
        if rule.category_code and rule.category_code not in codes:
            continue
        ok, area = _place_match(rule, lineage)
        if not ok:
            continue
        authority, area = _target(rule, area, lineage, by_place)
        if authority is None:
            skipped.append(rule)
            continue
        parts = []
        if rule.category_code:
            parts.append(_("lĩnh vực %(code)s") % {"code": rule.category_code})
        else:
            parts.append(_("mọi lĩnh vực"))
        if area is not None and (rule.area_id or rule.area_type_id or rule.target_kind):
            parts.append(_area_label(area))
        explanation = _("Quy tắc %(priority)s '%(name)s' khớp: %(why)s → %(authority)s.") % {
            "priority": rule.priority,
            "name": rule.name,
            "why": ", ".join(parts),
            "authority": authority.name,
        }
        if skipped:
            explanation += " " + _("Bỏ qua %(n)d quy tắc trước đó vì không tìm thấy cơ quan phù hợp.") % {
                "n": len(skipped)
            }
        return RouteResult(authority=authority, rule=rule, area=area, explanation=explanation)
    if not lineage:
        explanation = _("Không xác định được địa bàn nên không thể chuyển phản ánh; tổ vận hành sẽ xem xét.")
    else:
        explanation = _("Không có quy tắc nào khớp với lĩnh vực %(codes)s tại %(place)s; tổ vận hành sẽ xem xét.") % {
            "codes": ", ".join(codes) or "—",
            "place": _area_label(lineage[0]),
        }
    return RouteResult(authority=None, rule=None, area=None, explanation=explanation)


def responsibilities(area: Area) -> list[RouteResult]:
    """Who acts on what at ``area``: for every category code the active rules name (and
    for any other field), the routing result at this area, in rule order, one entry per
    code. What the first page shows under a commune."""
    rules = load_rules()
    codes, seen = [], set()
    for rule in rules:
        if rule.category_code not in seen:
            seen.add(rule.category_code)
            codes.append(rule.category_code)
    if "" not in seen:
        codes.append("")
    lineage = _lineage([area])  # the area and its parents, fetched once
    out = []
    for code in codes:
        result = route(lineage, [code] if code else [], rules=rules)
        if result.authority is not None:
            out.append(result)
    return out


# --- the process cache of the hot path -----------------------------------------------

# by_place: _authorities_by_place() for route_cached's misses, which then need no
# query (with 4 workers each routing 3,321 communes x 20 categories anew, most creates
# of a fresh process are misses: bench/ingest.py).
_rules_cache = {"at": 0.0, "rules": None, "by_place": None}
_routes_cache: dict = {}
_ROUTES_MAX = 20_000


def _cache_off() -> bool:
    # Inside a transaction (a test, a re-route) the caller may see rules others do not:
    # read them fresh and leave the cache alone.
    return settings.ROUTING_RULES_CACHE_SECONDS <= 0 or connection.in_atomic_block


def cached_rules() -> list[RoutingRule]:
    """load_rules(), kept in this process for ROUTING_RULES_CACHE_SECONDS (an admin's
    change applies within that time on other processes, at once on this one)."""
    if _cache_off():
        return load_rules()
    now = time.monotonic()
    if _rules_cache["rules"] is None or now - _rules_cache["at"] > settings.ROUTING_RULES_CACHE_SECONDS:
        _rules_cache["rules"] = load_rules()
        _rules_cache["at"] = now
        _rules_cache["by_place"] = None
        _routes_cache.clear()
    return _rules_cache["rules"]


def clear_cache(**kwargs):
    """Signal receiver: a rule or an authority changed."""
    _rules_cache["rules"] = None
    _rules_cache["by_place"] = None
    _routes_cache.clear()


def route_cached(areas: list[Area], category_codes: list[str]) -> RouteResult:
    """route() with this process's rules; outside transactions the result for the same
    areas and codes is reused while the rules cache holds (a route is a pure function of
    areas, codes, rules and authorities, and a change of either clears the cache)."""
    rules = cached_rules()
    if _cache_off():
        return route(areas, category_codes, rules=rules)
    key = (tuple(a.pk for a in areas), tuple(category_codes))
    routed = _routes_cache.get(key)
    if routed is None:
        if len(_routes_cache) > _ROUTES_MAX:
            _routes_cache.clear()
        if _rules_cache["by_place"] is None:
            _rules_cache["by_place"] = _authorities_by_place()
        routed = _routes_cache[key] = route(areas, category_codes, rules=rules, by_place=_rules_cache["by_place"])
    return routed
