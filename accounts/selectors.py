import datetime as dt
from types import SimpleNamespace

from allauth.account.authentication import get_authentication_records
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import AuditEvent, Role, User
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


# --- staff ----------------------------------------------------------------------------------------

# Holders of these roles, and Django staff and superusers, are staff: they see other people's
# cases, sanction accounts or review the service, so a password alone must not open that (two-factor),
# and they are not counted as people using the service (the regulator's figures).
STAFF_ROLES = (Role.OPERATOR, Role.COMPLIANCE, Role.REGULATOR)
SETUP = "setup"  # no authenticator app yet
VERIFY = "verify"  # this session has not passed the second factor


def staff_accounts() -> QuerySet[User]:
    return User.objects.filter(Q(is_staff=True) | Q(is_superuser=True) | Q(groups__name__in=STAFF_ROLES))


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
