"""Audit rows for events Django and allauth announce: sign-ins, two-factor changes, role changes,
admin-site edits (BX-11, CN-DAT-02). Connected in AccountsConfig.ready()."""
import json

# allauth's own session record of passed authentication steps (not a public module; pinned version).
from allauth.account.internal.flows.login import record_authentication
from allauth.mfa.models import Authenticator
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.models import Group

from accounts import audit
from accounts.models import User

ADMIN_ACTIONS = {ADDITION: "admin.added", CHANGE: "admin.changed", DELETION: "admin.deleted"}


def _ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


def logged_in(sender, request, user, **kwargs):
    audit.record("auth.login", actor=user, subject_type="user", subject_id=user.pk, ip=_ip(request))


def logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit.record("auth.logout", actor=user, subject_type="user", subject_id=user.pk, ip=_ip(request))


def login_failed(sender, credentials, request=None, **kwargs):
    """The attempted name stays out of the log (it may be a mistyped password); the account it
    names, if any, is the subject, so staff see attacks on one account."""
    login = credentials.get("username") or credentials.get("email") or ""
    account = (User.objects.filter(username__iexact=login).values_list("pk", flat=True).first()
               or User.objects.filter(email__iexact=login).values_list("pk", flat=True).first()) if login else None
    audit.record("auth.login_failed", actor=None, subject_type="user" if account else "",
                 subject_id=account or "", ip=_ip(request))


def mfa_added(sender, request, user, authenticator, **kwargs):
    """An authenticator app (or its recovery codes) was set up. Activating the app took a code from
    it, so the session that did it has passed the second factor (accounts.middleware
    `second_factor_due`): staff go on to their pages without typing a second code."""
    audit.record("auth.mfa_activated", actor=user, subject_type="user", subject_id=user.pk,
                 data={"type": authenticator.type}, ip=_ip(request))
    if request is not None and authenticator.type == Authenticator.Type.TOTP:
        record_authentication(request, user, "mfa", id=authenticator.pk, type=authenticator.type, activated=True)


def mfa_removed(sender, request, user, authenticator, **kwargs):
    audit.record("auth.mfa_deactivated", actor=user, subject_type="user", subject_id=user.pk,
                 data={"type": authenticator.type}, ip=_ip(request))


def mfa_reset(sender, request, user, authenticator, **kwargs):
    audit.record("auth.mfa_codes_regenerated", actor=user, subject_type="user", subject_id=user.pk,
                 data={"type": authenticator.type}, ip=_ip(request))


def mfa_failed(sender, request, user, authenticator, **kwargs):
    """A wrong code, at sign-in (nobody is signed in yet, as with `login_failed`) or re-authentication."""
    audit.record("auth.mfa_failed", actor=None, subject_type="user", subject_id=user.pk,
                 data={"type": authenticator.type}, ip=_ip(request))


def groups_changed(sender, instance, action, reverse, pk_set, **kwargs):
    """Roles are groups (accounts.models.Role): every grant and revocation, from any path."""
    if action == "pre_clear":
        pairs = ([(instance.pk, name) for name in instance.groups.values_list("name", flat=True)] if not reverse
                 else [(pk, instance.name) for pk in instance.user_set.values_list("pk", flat=True)])
        kind = "role.revoked"
    elif action in ("post_add", "post_remove"):
        if not reverse:
            names = Group.objects.filter(pk__in=pk_set).values_list("name", flat=True)
            pairs = [(instance.pk, name) for name in names]
        else:
            pairs = [(pk, instance.name) for pk in sorted(pk_set)]
        kind = "role.granted" if action == "post_add" else "role.revoked"
    else:
        return
    for user_id, name in sorted(pairs):
        audit.record(kind, subject_type="user", subject_id=user_id, data={"role": name})


def admin_logged(sender, instance: LogEntry, created, **kwargs):
    """Every add, change and delete through the admin site, with the changed field names (not values)."""
    if not created or instance.action_flag not in ADMIN_ACTIONS:
        return
    fields: list[str] = []
    try:
        for part in json.loads(instance.change_message or "[]"):
            fields.extend(part.get("changed", {}).get("fields", []))
    except (ValueError, AttributeError):
        fields = []
    content_type = instance.content_type
    audit.record(ADMIN_ACTIONS[instance.action_flag], actor=instance.user_id,
                 subject_type=f"{content_type.app_label}.{content_type.model}"[:32] if content_type else "",
                 subject_id=str(instance.object_id or "")[:64], data={"fields": [str(name) for name in fields]})
