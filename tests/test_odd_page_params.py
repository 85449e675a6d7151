"""Pages (not in the OpenAPI schema) with odd query parameters: a page or a 4xx, never
a 500 — the same kinds of values the API's schema test sends."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db

ODD = ["", "-1", "\x00", "a\x00b", "99999999999999999999", "nan", "9999-12-31", "0001-01-01", "2026-02-30", "😀",
       "x" * 3000]
PAGES = [
    ("/phan-anh/", ["page", "category", "state", "commune", "date_from", "date_to"], None),
    ("/phan-anh/ban-do.json", ["category", "state", "date_from", "date_to"], None),
    ("/phan-anh/moi/", ["province", "lat", "lon"], None),
    ("/ban-do/", ["province", "month"], None),
    ("/xep-hang/", ["province", "start", "end", "month", "category", "q", "page"], None),
    ("/tong-quan/", ["province", "start", "end", "month", "state"], None),
    ("/dieu-hanh/", ["tab", "page", "category", "state", "date_from", "date_to", "overdue"], "+84900000001"),
    ("/xu-ly/", ["page", "category", "state", "date_from", "date_to", "overdue"], "+84900000002"),
    ("/ioc/", ["province", "rotate", "sse"], "+84900000004"),
    ("/ioc/events", ["max_s", "last_id", "province"], "+84900000004"),
    ("/ogcapi/collections/reports-22/items", ["limit", "offset", "bbox", "bbox-crs", "datetime", "filter",
                                              "filter-lang",
                                              "state", "category", "created_at", "f"], None),
    ("/ogcapi/collections/areas-vn-2025-commune/items", ["limit", "zoom", "bbox", "parent", "filter"], None),
    ("/ogcapi/collections/reports/items/PA-1", ["zoom", "f"], None),
]


@pytest.mark.parametrize("url, params, who", PAGES, ids=[p[0] for p in PAGES])
def test_odd_page_parameters_never_give_a_500(url, params, who):
    client = Client()
    if who:
        client.force_login(get_user_model().objects.get(username=who))
    for name in params:
        for value in ODD:
            query = {name: value}
            if url == "/ioc/events":
                query["once"] = "1"
            resp = client.get(url, query)
            assert resp.status_code < 500, (url, name, value)
            assert resp.status_code in (200, 302, 400, 403, 404), (url, name, value, resp.status_code)
