from django.conf import settings

from companion import llm


def service(request):
    """Names shown on every page: service name and the algorithm filing (CN-GOV-05)."""
    return {
        "SERVICE_NAME": settings.COMPANION_SERVICE_NAME,
        "FILING_NUMBER": settings.COMPANION_ALGORITHM_FILING_NUMBER,
        "FILING_URL": settings.COMPANION_ALGORITHM_FILING_URL,
        "LLM_IS_DEMO": llm.provider().name == "offline",
        "ROLES": _roles(request),
    }


def _roles(request) -> frozenset[str]:
    """The signed-in user's roles, for navigation only; every view checks access itself."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return frozenset()
    return frozenset(user.groups.values_list("name", flat=True))
