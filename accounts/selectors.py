import datetime as dt

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import AuditEvent, User
from accounts.packs import UserRules, rules_for


def rules_for_user(user: User) -> UserRules:
    """The policy-pack rules that reach this user under the deployment's settings."""
    return rules_for(region=user.region, is_minor=user.is_minor, enabled=settings.POLICY_PACKS,
                     regime=settings.CN_REGIME, interval_cap_minutes=settings.COMPANION_REMINDER_INTERVAL_CAP_MINUTES)


def audit_events(*, action: str = "", actor: str = "", subject_type: str = "", subject_id: str = "",
                 since: dt.date | None = None, until: dt.date | None = None) -> QuerySet[AuditEvent]:
    """Audit rows, newest first. `action` ending in "." matches a family ("case."); `actor` is a
    user name or a numeric id (deleted accounts are known only by their id)."""
    rows = AuditEvent.objects.order_by("-id")
    if action:
        rows = rows.filter(action__startswith=action) if action.endswith(".") else rows.filter(action=action)
    if actor:
        actor_id = int(actor) if actor.isdigit() else User.objects.filter(username=actor).values_list("pk", flat=True).first()
        rows = rows.filter(actor_id=actor_id) if actor_id is not None else rows.none()
    if subject_type:
        rows = rows.filter(subject_type=subject_type)
    if subject_id:
        rows = rows.filter(subject_id=subject_id)
    zone = timezone.get_current_timezone()
    if since:
        rows = rows.filter(created_at__gte=dt.datetime.combine(since, dt.time.min, zone))
    if until:
        rows = rows.filter(created_at__lt=dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, zone))
    return rows


def usernames(user_ids) -> dict[int, str]:
    return dict(User.objects.filter(pk__in={pk for pk in user_ids if pk is not None}).values_list("pk", "username"))
