from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from accounts import audit
from accounts.policies import interface_language
from accounts.selectors import SETUP, VERIFY, second_factor_due


class UserLanguageMiddleware:
    """A signed-in user's saved language wins over the browser's, unless they just picked one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.language:
            language = interface_language(request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME), user.language,
                                          dict(settings.LANGUAGES))
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)


class AuditContextMiddleware:
    """Audit rows written while serving a request name its user and client address (BX-11). Behind
    a proxy, daphne's --proxy-headers puts the client's address in REMOTE_ADDR (docs/deploy.md)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = audit.bind_request(request)
        try:
            return self.get_response(request)
        finally:
            audit.reset_context(token)


# --- two-factor authentication for staff (issue #4 item 5) ----------------------------------------

class StaffSecondFactorMiddleware:
    """Staff pages (ACCOUNTS_STAFF_PATHS) need a staff session that passed two-factor
    authentication: without an authenticator app the account is sent to set one up, with one the
    session is asked for a code first. Chat users are never asked."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith(settings.ACCOUNTS_STAFF_PATHS) and request.user.is_authenticated:
            due = second_factor_due(request.user, request.session)
            if due == SETUP:
                messages.warning(request, gettext("Staff accounts need two-factor authentication. Set up an "
                                                  "authenticator app, then open the staff pages again."))
                return redirect("mfa_activate_totp")
            if due == VERIFY:
                messages.info(request, gettext("Enter a code from your authenticator app to open the staff pages."))
                return redirect(reverse("mfa_reauthenticate") + "?" + urlencode({"next": request.get_full_path()}))
        return self.get_response(request)
