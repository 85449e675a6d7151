"""Vietnamese is the default language; English is chosen with the switcher."""


def test_pages_are_vietnamese_even_for_an_english_browser(client, db):
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert "Phản ánh hiện trường" in page
    assert 'lang="vi"' in page


def test_the_switcher_turns_the_site_english(client, db):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    page = client.get("/").content.decode()
    assert 'lang="en"' in page
    assert "Field reports" in page


def test_api_clients_may_ask_for_english_errors(client, db):
    vi = client.get("/api/v1/locate", {"lat": "abc", "lon": "107"}).json()
    en = client.get("/api/v1/locate", {"lat": "abc", "lon": "107"}, HTTP_ACCEPT_LANGUAGE="en").json()
    assert vi != en


def test_error_pages_are_translated_pages_not_django_s_english_ones(client, db):
    from django.test import Client

    missing = client.get("/khong-co-trang-nay/")
    assert missing.status_code == 404 and "Không tìm thấy trang" in missing.content.decode()
    forged = Client(enforce_csrf_checks=True).post("/accounts/login/", {"action": "password", "username": "x"})
    assert forged.status_code == 403 and "Biểu mẫu đã hết hạn" in forged.content.decode()
    wrong_host = client.get("/", HTTP_HOST="evil.example")
    assert wrong_host.status_code == 400 and "Yêu cầu không hợp lệ" in wrong_host.content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    english = client.get("/khong-co-trang-nay/").content.decode()
    assert "Page not found" in english and 'lang="en"' in english


def test_drf_s_own_refusals_are_translated(client, db):
    from rest_framework.test import APIClient

    bad_token = APIClient(HTTP_AUTHORIZATION="Token not-a-token").get("/api/v1/categories")
    assert bad_token.status_code in (401, 403) and "không hợp lệ" in bad_token.json()["detail"]
    plain = APIClient().post("/api/v1/reports", "x", content_type="text/plain")
    assert plain.status_code == 415 and "text/plain" in plain.json()["detail"]
    assert "không được hỗ trợ" in plain.json()["detail"]
    english = APIClient(HTTP_AUTHORIZATION="Token not-a-token").get("/api/v1/categories", HTTP_ACCEPT_LANGUAGE="en")
    assert "invalid" in english.json()["detail"].lower()
