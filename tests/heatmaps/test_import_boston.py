"""Boston 311 imported as reports: per department, the on-time shares equal the file's
own OnTime_Status shares exactly, and the heat layers leave out City Hall's "not
geocoded" point. The whole file (121,145 requests) is imported: ~25-40 s here."""

import gzip

import pandas as pd
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils.text import slugify

from heatmaps import aggregates as agg
from heatmaps import stats
from heatmaps.aggregates import Filters
from heatmaps.importer import import_records, load_mapping

FILE = settings.DATA_DIR / "boston-311" / "requests_2015_partial.csv.gz"
CITY_HALL = (-71.0587, 42.3594)


@pytest.fixture(scope="module")
def frame():
    return pd.read_csv(FILE, dtype=str)


def test_boston_whole_file_on_time_shares_and_heat_without_city_hall(db, frame, capsys):
    call_command("import_records", str(FILE), "--preset", "boston311")
    out = capsys.readouterr().out
    assert "121,145 new" in out and "17,070 at a placeholder point" in out

    # The file's share: requests marked ONTIME among the closed requests with a target
    # (82 closed-late requests carry no OnTime_Status: they are not ONTIME, and by
    # their dates, CLOSED_DT > TARGET_DT, not on time either).
    closed = frame[frame.CLOSED_DT.notna() & frame.TARGET_DT.notna()]
    file_share = closed.groupby("Department").OnTime_Status.apply(lambda s: (s == "ONTIME").sum() / len(s))
    assert len(file_share) >= 10
    for dept, share in file_share.items():
        fig = stats.figures_for("authority", "boston311-" + slugify(dept), Filters())
        assert fig["on_time_rate"] == share, dept  # exact: same integers divided
        assert fig["received"] == (frame.Department == dept).sum()

    # The heat layers: City Hall's 17,070 requests are not in any bin, the others are.
    with connection.cursor() as cur:
        cur.execute("SELECT sum(n) FROM heatmaps_gridrollup WHERE level = 9 AND province_code = 'US-MA-BOS'")
        binned = cur.fetchone()[0]
    placeholder = ((frame.LATITUDE.astype(float) == CITY_HALL[1])
                   & (frame.LONGITUDE.astype(float) == CITY_HALL[0])).sum()
    assert placeholder == 17070
    assert binned == len(frame) - placeholder
    heat = agg.heat_points((-71.07, 42.35, -71.05, 42.37), 14, Filters())
    at_hall = [p for p in heat if abs(p[0] - CITY_HALL[1]) < 0.003 and abs(p[1] - CITY_HALL[0]) < 0.003]
    assert max((p[2] for p in at_hall), default=0) < 1000
    # …but the requests keep their point and their ward (the file's own)
    with connection.cursor() as cur:
        cur.execute(
            """SELECT count(*), count(commune_id) FROM reports_report
               WHERE source = 'import:boston311' AND ST_X(location) = %s AND ST_Y(location) = %s""",
            list(CITY_HALL),
        )
        at_hall, with_ward = cur.fetchone()
    assert at_hall == 17070
    hall = frame[(frame.LATITUDE.astype(float) == CITY_HALL[1]) & (frame.LONGITUDE.astype(float) == CITY_HALL[0])]
    assert with_ward == hall.ward.str.extract(r"(\d+)", expand=False).notna().sum()


def test_reimport_is_idempotent_and_updates_changed_records(db, tmp_path, frame):
    part = frame.head(300).copy()
    path = tmp_path / "part.csv.gz"
    with gzip.open(path, "wt") as fh:
        part.to_csv(fh, index=False)
    mapping = load_mapping("boston311")
    first = import_records(str(path), mapping)
    assert (first.inserted, first.updated) == (300, 0)
    again = import_records(str(path), mapping)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 300)
    # one request closed since: the re-import updates it
    i = part.index[part.CASE_STATUS == "Open"][0]
    part.loc[i, ["CASE_STATUS", "CLOSED_DT"]] = ["Closed", "12/31/2015 10:00:00 AM"]
    with gzip.open(path, "wt") as fh:
        part.to_csv(fh, index=False)
    third = import_records(str(path), mapping)
    assert (third.inserted, third.updated) == (0, 1)
    from reports.models import Report

    r = Report.objects.get(source="import:boston311", external_id=part.loc[i, "CASE_ENQUIRY_ID"])
    assert r.state == "closed" and r.closed_at is not None


def test_mapping_errors_are_clear(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="external_id"):
        call_command("import_records", str(FILE), "--map", "lat=LATITUDE")
    # a column the file does not have: named, with the file's columns, before any row is read
    with pytest.raises(CommandError, match=r"Tệp không có cột: NGAY_MO \(created_at\).*OPEN_DT"):
        call_command("import_records", str(FILE), "--preset", "boston311", "--map", "created_at=NGAY_MO")
    # a field that does not exist (a typo) is not silently ignored
    with pytest.raises(CommandError, match="Trường không có trong ánh xạ: catgory"):
        call_command("import_records", str(FILE), "--preset", "boston311", "--map", "catgory=TYPE")
    bad = tmp_path / "map.json"
    bad.write_text("{không phải json", encoding="utf-8")
    with pytest.raises(CommandError, match="không đọc được"):
        call_command("import_records", str(FILE), "--mapping", str(bad))
    with pytest.raises(CommandError, match="Không mở được tệp ánh xạ"):
        call_command("import_records", str(FILE), "--mapping", str(tmp_path / "khong-co.json"))
