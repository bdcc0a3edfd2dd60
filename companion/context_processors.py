from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.utils.translation import get_language

from companion import llm, notices


def service(request):
    """Names shown on every page: service name and the algorithm filing (CN-GOV-05); banners for
    the service notices affecting this visitor (CN-SVC-01) and open outages (CN-SVC-02)."""
    language = get_language()
    return {
        "SERVICE_NAME": settings.COMPANION_SERVICE_NAME,
        "FILING_NUMBER": settings.COMPANION_ALGORITHM_FILING_NUMBER,
        "FILING_URL": settings.COMPANION_ALGORITHM_FILING_URL,
        "LLM_IS_DEMO": llm.provider().name == "offline",
        "ROLES": _roles(request),
        "SERVICE_NOTICES": notices.banners_for(getattr(request, "user", None) or AnonymousUser(), language),
        "OPEN_INCIDENTS": [{"title": item.title_for(language), "statement": item.statement_for(language)}
                           for item in notices.open_incidents()],
    }


def _roles(request) -> frozenset[str]:
    """The signed-in user's roles, for navigation only; every view checks access itself."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return frozenset()
    return frozenset(user.groups.values_list("name", flat=True))
