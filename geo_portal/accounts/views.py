"""Sign-in pages: phone → one-time code → signed in; staff may also use a password."""

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from geo_portal import ratelimit
from geo_portal.accounts import otp, passwords
from geo_portal.accounts.forms import CodeForm, PasswordLoginForm, PhoneForm, ProfileForm

SESSION_PHONE = "otp_phone"


def _next_url(request):
    nxt = request.POST.get("next") or request.GET.get("next") or ""
    if nxt and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
        return nxt
    return "/"


def _client_ip(request):
    return request.META.get("REMOTE_ADDR", "")


def _add_errors(form, exc: ValidationError):
    for field, errs in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errs)


def login_view(request):
    step = "phone"
    phone_form, code_form, pw_form = PhoneForm(), CodeForm(), PasswordLoginForm()
    status, retry_after = 200, None
    phone = request.session.get(SESSION_PHONE)
    if request.method == "GET" and request.GET.get("step") == "code" and phone:
        step = "code"
    if request.method == "POST":
        action = request.POST.get("action", "phone")
        if action == "phone":
            phone_form = PhoneForm(request.POST)
            if phone_form.is_valid():
                try:
                    phone = otp.request_code(phone_form.cleaned_data["phone"], ip=_client_ip(request))
                except otp.RateLimited as exc:
                    _add_errors(phone_form, exc)
                    status, retry_after = 429, exc.retry_after
                except ValidationError as exc:
                    _add_errors(phone_form, exc)
                    status = 400
                else:
                    request.session[SESSION_PHONE] = phone
                    messages.info(request, _("Đã gửi mã xác nhận tới %(phone)s.") % {"phone": phone})
                    step = "code"
            else:
                status = 400
        elif action == "code":
            code_form = CodeForm(request.POST)
            step = "code"
            if not phone:
                step = "phone"
                phone_form.add_error("phone", _("Vui lòng nhập số điện thoại trước."))
                status = 400
            elif code_form.is_valid():
                try:
                    user = otp.verify_code(phone, code_form.cleaned_data["code"], ip=_client_ip(request))
                except otp.RateLimited as exc:
                    _add_errors(code_form, exc)
                    status, retry_after = 429, exc.retry_after
                except ValidationError as exc:
                    _add_errors(code_form, exc)
                    status = 400
                else:
                    request.session.pop(SESSION_PHONE, None)
                    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                    return redirect(_next_url(request))
            else:
                status = 400
        elif action == "password":
            pw_form = PasswordLoginForm(request.POST)
            step = "password"
            if pw_form.is_valid():
                try:
                    user = passwords.sign_in(request, pw_form.cleaned_data["username"],
                                             pw_form.cleaned_data["password"])
                except otp.RateLimited as exc:
                    pw_form.add_error(None, exc.messages)
                    status, retry_after = 429, exc.retry_after
                except ValidationError as exc:
                    pw_form.add_error(None, exc.messages)
                    status = 400
                else:
                    login(request, user)
                    return redirect(_next_url(request))
            else:
                status = 400
    response = render(request, "accounts/login.html", {
        "step": step, "phone": phone, "phone_form": phone_form, "code_form": code_form,
        "pw_form": pw_form, "next": _next_url(request),
    }, status=status)
    if retry_after:
        ratelimit.retry_after_header(response, retry_after)
    return response


@require_POST
def logout_view(request):
    logout(request)
    return redirect("/")


@login_required
def profile_view(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Đã lưu thông tin."))
        return redirect("profile")
    return render(request, "accounts/profile.html", {"form": form})
