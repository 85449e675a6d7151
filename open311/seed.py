"""Demo questions for a couple of categories (GeoReport v2 service attributes).
Idempotent: existing rows (an admin's edits) are kept."""

from django.utils.translation import gettext_noop as N_

ATTRIBUTES = {
    "do-thi-chieu-sang": [
        {"code": "so-cot-den", "datatype": "string", "required": False, "order": 1,
         "description": N_("Số hiệu cột đèn (ghi trên thân cột)"),
         "datatype_description": N_("Ví dụ: CS-12/34")},
        {"code": "tinh-trang-den", "datatype": "singlevaluelist", "required": True, "order": 2,
         "description": N_("Đèn đang thế nào?"),
         "values": [{"key": "tat", "name": N_("Tắt hẳn")}, {"key": "chap-chon", "name": N_("Chập chờn")},
                    {"key": "sang-ban-ngay", "name": N_("Sáng cả ban ngày")},
                    {"key": "do-nga", "name": N_("Cột đổ, nghiêng")}]},
    ],
    "giao-thong-mat-duong": [
        {"code": "kich-thuoc", "datatype": "singlevaluelist", "required": False, "order": 1,
         "description": N_("Ổ gà rộng khoảng bao nhiêu?"),
         "values": [{"key": "nho", "name": N_("Nhỏ hơn bàn tay")}, {"key": "vua", "name": N_("Cỡ bánh xe máy")},
                    {"key": "lon", "name": N_("Lớn hơn 1 m")}]},
        {"code": "lan-xe", "datatype": "multivaluelist", "required": False, "order": 2,
         "description": N_("Ở làn nào?"),
         "values": [{"key": "o-to", "name": N_("Làn ô tô")}, {"key": "xe-may", "name": N_("Làn xe máy")},
                    {"key": "via-he", "name": N_("Vỉa hè")}]},
    ],
}


def seed_attributes():
    from reports.models import Category

    from .models import ServiceAttribute

    created = 0
    for code, rows in ATTRIBUTES.items():
        category = Category.objects.filter(code=code).first()
        if category is None:
            continue
        for row in rows:
            _obj, new = ServiceAttribute.objects.get_or_create(category=category, code=row["code"], defaults={
                k: v for k, v in row.items() if k != "code"})
            created += new
    return created
