"""The first page: a map of a province's communes; a click shows the commune and who
answers for it. Data comes from the boundary API (boundaries/api.py)."""

from django.shortcuts import render
from django.utils.translation import gettext as _

from boundaries.models import Area, BoundaryVersion

# The provinces with full-resolution communes and authorities, in the chooser's order.
HOME_PROVINCES = ["22", "46", "11", "96"]
DEFAULT_PROVINCE = "22"


def home(request):
    version = BoundaryVersion.objects.current()
    provinces = []
    if version is not None:
        names = dict(
            Area.objects.filter(version=version, type__code="province", code__in=HOME_PROVINCES).values_list(
                "code", "name"
            )
        )
        provinces = [{"code": c, "name": names[c]} for c in HOME_PROVINCES if c in names]
    strings = {
        "commune": _("Xã/phường"),
        "code": _("Mã"),
        "province_code": _("Mã tỉnh"),
        "type": _("Loại"),
        "version": _("Phiên bản địa giới"),
        "authorities": _("Cơ quan xử lý"),
        "none": _("Chưa có cơ quan nào được gán."),
        "phone": _("Điện thoại"),
        "email": _("Email"),
        "loading": _("Đang tải…"),
        "error": _("Không tải được dữ liệu. Vui lòng thử lại."),
        "communes": _("xã/phường"),
        "hint": _("Chạm vào một xã/phường trên bản đồ để xem thông tin."),
        "routing": _("Phản ánh ở đây được chuyển đến"),
    }
    return render(
        request,
        "boundaries/home.html",
        {
            "provinces": provinces,
            "default_province": DEFAULT_PROVINCE,
            "version": version,
            "home_config": {
                "version": version.code if version else "",
                "defaultProvince": DEFAULT_PROVINCE,
                "lang": getattr(request, "LANGUAGE_CODE", "vi"),
                "strings": strings,
            },
        },
    )
