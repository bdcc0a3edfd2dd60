from django.conf import settings
from django.utils import translation

from accounts import audit
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
