def test_home_page_answers_in_vietnamese(client, db):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert "Đăng nhập" in response.content.decode()
