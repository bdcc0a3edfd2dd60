from types import SimpleNamespace
from urllib.parse import urlencode

from allauth.account.authentication import get_authentication_records
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from accounts import audit
from accounts.models import Role
from accounts.policies import interface_language


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

# Holders of these roles, and Django staff and superusers, are staff: they see other people's
# cases, sanction accounts or review the service, so a password alone must not open that.
STAFF_ROLES = (Role.OPERATOR, Role.COMPLIANCE, Role.REGULATOR)
SETUP = "setup"  # no authenticator app yet
VERIFY = "verify"  # this session has not passed the second factor


def is_staff_account(user) -> bool:
    return user.is_authenticated and (user.is_staff or user.is_superuser
                                      or user.groups.filter(name__in=STAFF_ROLES).exists())


def second_factor_due(user, session) -> str | None:
    """What a staff account still owes before staff pages and the console socket: SETUP, VERIFY or
    None (nothing; always None for chat users). Reads the database and `session`.

    Having an authenticator is not enough: the session itself must have passed a code (allauth
    records it at sign-in, at re-authentication, and `receivers.mfa_added` at activation), so a
    password-only sign-in elsewhere, such as Django's own /admin/login/ form, opens nothing."""
    if not is_staff_account(user):
        return None
    if not Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.TOTP).exists():
        return SETUP
    records = get_authentication_records(SimpleNamespace(session=session), user)
    return None if any(record.get("method") == "mfa" for record in records) else VERIFY


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
