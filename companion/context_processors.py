from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.utils.translation import get_language

from companion import llm, minors_audit, notices


def service(request):
    """Names shown on every page: service name and the algorithm filing (CN-GOV-05); banners for
    the service notices affecting this visitor (CN-SVC-01) and open outages (CN-SVC-02)."""
    language = get_language()
    return {
        "SERVICE_NAME": settings.COMPANION_SERVICE_NAME,
        "FILING_NUMBER": settings.COMPANION_ALGORITHM_FILING_NUMBER,
        "FILING_URL": settings.COMPANION_ALGORITHM_FILING_URL,
        "LLM_IS_DEMO": llm.provider().name == "offline",
        "ROLES": (roles := _roles(request)),
        "MINORS_AUDIT_ALERT": _minors_audit_alert(request, roles),
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


def _minors_audit_alert(request, roles: frozenset[str]) -> str:
    """CN-MIN-15: in the compliance area, the state of the yearly minors' audit when it needs doing
    (`due_soon` or `overdue`, shown as an amber or red alert), else ""."""
    if not ({"compliance", "regulator"} & roles) or not request.path.startswith("/compliance/"):
        return ""
    state = minors_audit.audit_status().state
    return state if state in ("due_soon", "overdue") else ""
