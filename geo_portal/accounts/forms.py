from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _


class PhoneForm(forms.Form):
    phone = forms.CharField(label=_("Số điện thoại"), max_length=30,
                            widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel",
                                                          "placeholder": "0912 345 678"}))


class CodeForm(forms.Form):
    code = forms.CharField(label=_("Mã xác nhận (6 chữ số)"), max_length=6, min_length=6,
                           widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code",
                                                         "pattern": "[0-9]{6}"}))


class PasswordLoginForm(forms.Form):
    username = forms.CharField(label=_("Tên đăng nhập hoặc số điện thoại"), max_length=150)
    password = forms.CharField(label=_("Mật khẩu"), widget=forms.PasswordInput)


class ProfileForm(forms.ModelForm):
    class Meta:
        model = get_user_model()
        fields = ["display_name", "email"]
        labels = {"display_name": _("Tên hiển thị"), "email": _("Email (không bắt buộc)")}
