"""route(): the seeded rules of the four provinces, first match wins, explanations."""

import datetime as dt

import pytest

from boundaries.lookup import locate
from boundaries.models import Area, Authority, RoutingRule
from boundaries.routing import route
from reports.models import Category
from tests.boundaries._points import interior_point

pytestmark = pytest.mark.django_db


def codes(category_code):
    return Category.objects.get(code=category_code).codes_for_routing()


def where(code):
    return locate(interior_point(code)).areas


@pytest.mark.parametrize(
    "commune,province",
    [("06673", "22"), ("06685", "22"), ("06709", "22"), ("19753", "46"), ("03127", "11"), ("32002", "96")],
)
def test_each_demo_place_routes_power_to_the_province_company_and_building_to_the_commune(commune, province):
    areas = where(commune)
    power = route(areas, codes("dien-mat-dien"))
    assert power.authority.code == f"dien-luc-{province}"
    assert power.area.code == province  # the province rule covers its communes
    building = route(areas, codes("xay-dung-trai-phep"))
    assert building.authority.code == f"ubnd-{commune}"
    assert building.authority.jurisdiction.code == commune
    assert building.area.code == commune
    assert building.rule.target_kind == "committee"


def test_specialised_fields_go_to_their_provincial_body():
    areas = where("06673")
    expected = {
        "nuoc-ro-ri": "cap-nuoc-22",
        "y-te-ve-sinh-thuc-pham": "so-yt-22",
        "giao-duc-truong-hoc": "so-gd-22",
        "an-ninh-trat-tu": "cong-an-22",
        "du-lich-dich-vu": "so-dl-22",
        "giao-thong-un-tac": "cong-an-22",
        "giao-thong-den-tin-hieu": "so-gtvt-22",
        "giao-thong-mat-duong": "ubnd-06673",
        "do-thi-chieu-sang": "ubnd-06673",
        "moi-truong-rac-thai": "ubnd-06673",
        "khac-khac": "ubnd-06673",
    }
    got = {c: route(areas, codes(c)).authority.code for c in expected}
    assert got == expected


def test_explanation_is_a_vietnamese_sentence_naming_rule_field_and_place():
    result = route(where("06673"), codes("dien-mat-dien"))
    assert result.explanation.startswith(f"Quy tắc {result.rule.priority} '{result.rule.name}' khớp")
    assert "lĩnh vực dien" in result.explanation
    assert "Quảng Ninh" in result.explanation
    assert "Công ty Điện lực Quảng Ninh" in result.explanation


def test_first_match_by_priority_wins_and_inactive_rules_are_ignored():
    areas = where("06673")
    desk = Authority.objects.get(code="ioc-22")
    rule = RoutingRule.objects.create(
        priority=1,
        name="Điện ở Bãi Cháy → tổ IOC",
        category_code="dien-mat-dien",
        area=Area.objects.get(code="06673", version__code="vn-2025"),
        authority=desk,
    )
    assert route(areas, codes("dien-mat-dien")).authority == desk
    assert route(areas, codes("dien-cot-day")).authority.code == "dien-luc-22"  # other leaf: not matched
    assert route(where("06685"), codes("dien-mat-dien")).authority.code == "dien-luc-22"  # other commune
    rule.active = False
    rule.save()
    assert route(areas, codes("dien-mat-dien")).authority.code == "dien-luc-22"


def test_rules_of_another_province_do_not_match():
    result = route(where("19753"), codes("dien-mat-dien"))
    assert result.authority.code == "dien-luc-46"
    assert result.authority.province_code == "46"


def test_no_area_no_authority_with_an_explanation():
    result = route([], codes("xay-dung-trai-phep"))
    assert result.authority is None and result.rule is None
    assert result.explanation


def test_old_version_point_keeps_province_rules_by_stable_province_code():
    old = locate(interior_point("06673"), at=dt.date(2025, 3, 1))
    assert old.version.code == "vn-2009"
    assert route(old.areas, codes("dien-mat-dien")).authority.code == "dien-luc-22"
    # no committee for an old commune: the fallback finds none and says so
    res = route(old.areas, codes("xay-dung-trai-phep"))
    assert res.authority is None and "Không có quy tắc" in res.explanation


def test_rules_load_in_one_query(django_assert_max_num_queries):
    areas = where("06673")
    category_codes = codes("xay-dung-trai-phep")
    with django_assert_max_num_queries(2):  # the rules, then the committee of the commune
        assert route(areas, category_codes).authority.code == "ubnd-06673"
