from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from accounts.services import set_user_language


@require_POST
def set_language(request):
    """Django's set_language (cookie + redirect), plus the signed-in user's saved preference."""
    response = django_set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and response.status_code in (200, 302) and language:
        try:
            set_user_language(user=request.user, language=language)
        except ValueError:
            pass  # Django already ignored the unknown code; the saved preference stays
    return response
