"""The official old→new commune table as succession between vn-2009 and vn-2025, with
shares computed from the polygons, and reroute() of a point across the cut-over."""

import pytest
from django.conf import settings

from boundaries.models import Area, AreaSuccession, BoundaryVersion
from boundaries.succession import predecessors, read_conversion_table, reroute, succession_table, successors

TABLE = settings.DATA_DIR / "vn-boundaries" / "codes" / "conversion_old_to_new_communes_2025-07-01.csv"


def old(code):
    return Area.objects.get(version__code="vn-2009", type__code="commune", code=code)


def test_reloading_the_table_recomputes_nothing(db):
    from fixtures.boundaries import load_succession_2025

    before = dict(AreaSuccession.objects.values_list("pk", "share"))
    stats = load_succession_2025()
    assert stats["computed"] == 0 and stats["deleted"] == 0 and stats["pairs"] == len(before)
    assert dict(AreaSuccession.objects.values_list("pk", "share")) == before


def test_the_official_table_is_read_without_headers_or_separator_rows():
    rows = read_conversion_table(TABLE)
    assert len(rows) == 10_571
    first = rows[0]
    assert (first.new_province, first.new_code, first.old_code, first.note) == ("01", "00004", "00004", "Nhập toàn bộ")
    assert {r.note for r in rows} >= {"Nhập toàn bộ", "Nhập một phần"}
    assert all(len(r.new_code) == 5 for r in rows)
    # whole island districts that became special zones have no old commune
    no_old = [r for r in rows if not r.old_code]
    assert len(no_old) == 6 and "Đặc khu Côn Đảo" in {r.new_name for r in no_old}
    assert all(len(r.old_code) == 5 for r in rows if r.old_code)


def test_bai_chay_and_hung_thang_became_bai_chay(db):
    for code in ("06673", "06679"):
        [(new, share)] = successors(old(code))
        assert (new.code, new.name, new.version.code) == ("06673", "Phường Bãi Cháy", "vn-2025")
        # 2009 polygons are thinned: most, not all, of the old ward lies in the new one
        assert 0.9 < share <= 1.0
    bai_chay_2025 = Area.objects.get(version__code="vn-2025", type__code="commune", code="06673")
    assert {a.name for a, _ in predecessors(bai_chay_2025)} == {
        "Phường Bãi Cháy",
        "Phường Hùng Thắng",
    }


@pytest.mark.parametrize(
    ("old_code", "old_name", "new_code", "new_name"),
    [
        ("06709", "Phường Ka Long", "06709", "Phường Móng Cái 2"),
        ("06661", "Phường Giếng Đáy", "06661", "Phường Việt Hưng"),
    ],
)
def test_whole_mergers_keep_most_of_the_old_area(db, old_code, old_name, new_code, new_name):
    o = old(old_code)
    assert o.name == old_name
    (new, share), *_ = successors(o)
    assert (new.code, new.name) == (new_code, new_name)
    assert share > 0.9
    assert AreaSuccession.objects.get(old=o, new=new).note == "Nhập toàn bộ"


def test_a_split_commune_has_several_successors_whose_shares_add_up(db):
    split = (
        AreaSuccession.objects.filter(note="Nhập một phần", old__version__code="vn-2009")
        .values_list("old", flat=True)
        .distinct()
    )
    assert split.exists()
    checked = 0
    for old_id in split[:20]:
        parts = successors(Area.objects.get(pk=old_id))
        total = sum(s for _, s in parts)
        if len(parts) > 1:
            checked += 1
            assert total <= 1.01  # shares of one old unit never exceed its area
            assert parts[0][1] >= parts[-1][1]  # largest share first
    assert checked


def test_succession_table_lists_every_old_commune_with_its_successors(db):
    table = succession_table("vn-2009", "vn-2025", type_code="commune")
    assert len(table) == Area.objects.filter(version__code="vn-2009", type__code="commune").count()
    by_code = {e.old.code: e for e in table}
    assert by_code["06679"].main_successor.code == "06673"
    linked = sum(1 for e in table if e.successors)
    assert linked / len(table) > 0.8  # the rest: 2009 communes without a reliable official code


def test_reroute_moves_a_point_by_its_position_not_its_name(db):
    # A point inside old Phường Hùng Thắng (Hạ Long): the 2009 version says Hùng Thắng in
    # district 193, the 2025 version says Phường Bãi Cháy, and routing follows.
    o = old("06679")
    point = o.geom.point_on_surface
    v25 = BoundaryVersion.objects.get(code="vn-2025")
    located, routed = reroute(point, ["dien-mat-dien", "dien"], v25)
    assert located.commune.code == "06673" and located.version == v25
    assert routed.authority is not None and routed.authority.code == "dien-luc-22"
    located, routed = reroute(point, ["xay-dung-trai-phep", "xay-dung"], v25)
    assert routed.authority.code == "ubnd-06673"
    located_old, _ = reroute(point, ["dien"], BoundaryVersion.objects.get(code="vn-2009"))
    assert located_old.commune.name in ("Phường Hùng Thắng", "Phường Bãi Cháy")  # 2009 polygons overlap slightly
    assert located_old.area_of_type("district").code == "193"


def test_reroute_of_a_point_outside_every_area_explains_why(db):
    located, routed = reroute((110.5, 18.0), ["dien"], "vn-2025")  # South China Sea, far offshore
    assert not located.areas and routed.authority is None
    assert routed.explanation
