"""The append-only, hash-chained audit log (BX-11, CN-DAT-02, CN-GOV-06): write, verify, purge.

Each row carries `hash = HMAC(key, prev_hash + canonical(row))` where `prev_hash` is the hash of the
row before it. Editing a row breaks its own hash; removing or reordering rows breaks the link of the
row after; and without the key (AUDIT_CHAIN_KEYS, kept out of the database) nobody can rebuild the
chain after an edit. What the chain cannot show by itself, rows cut off the end, the daily anchor
(`export_anchor`, written outside the database) and `verify_audit --anchors` show. docs/audit.md has the whole design.

Writers serialise on the chain: a transaction-scoped advisory lock on PostgreSQL (SQLite's
IMMEDIATE transactions already hold the write lock), taken by `record` and held to commit. Call
`record` last in a service so the lock is short.
"""
from __future__ import annotations

import contextvars
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import AuditEvent

logger = logging.getLogger(__name__)

GENESIS = "0" * 64
# Any fixed 64-bit number: the PostgreSQL advisory lock that orders writers on the chain.
_CHAIN_LOCK = 0x48415645_4E415544  # "HAVENAUD"
# Cybersecurity Law art. 21 / CN-GOV: network logs are kept at least six months. The database
# trigger (accounts/migrations/0003) refuses to delete younger rows whatever this setting says.
MIN_RETENTION_DAYS = 184

# Every action the log knows, with the label staff see. `record` refuses anything else, so a typo
# cannot create an action nobody filters for.
ACTIONS = {
    "auth.login": _("Signed in"),
    "auth.logout": _("Signed out"),
    "auth.login_failed": _("Failed sign-in"),
    "auth.mfa_activated": _("Two-factor authentication set up"),
    "auth.mfa_deactivated": _("Two-factor authentication removed"),
    "auth.mfa_codes_regenerated": _("Two-factor recovery codes regenerated"),
    "auth.mfa_failed": _("Wrong two-factor code"),
    "role.granted": _("Role granted"),
    "role.revoked": _("Role revoked"),
    "admin.added": _("Admin site: added"),
    "admin.changed": _("Admin site: changed"),
    "admin.deleted": _("Admin site: deleted"),
    "case.opened": _("Crisis case opened"),
    "case.escalated": _("Crisis case: risk level raised"),
    "case.safety_reply": _("Crisis case: preset safety reply sent"),
    "case.contacts_notified": _("Crisis case: contacts notified"),
    "case.viewed": _("Crisis case viewed by staff"),
    "case.claimed": _("Conversation taken over by staff"),
    "case.operator_message": _("Staff wrote to a user"),
    "case.handed_back": _("Conversation handed back to the AI"),
    "case.sla_missed": _("Crisis case unclaimed in time: fallback ran"),
    "case.contact_called": _("Staff called a contact"),
    "case.resolved": _("Crisis case resolved"),
    "sanction.imposed": _("Sanction imposed"),
    "sanction.lifted": _("Sanction lifted"),
    "sanctions.exported": _("Sanctions exported"),
    "library.term_created": _("Feature term drafted"),
    "library.term_updated": _("Feature term edited"),
    "library.term_approved": _("Feature term approved"),
    "library.term_retired": _("Feature term retired"),
    "library.template_created": _("Safety reply drafted"),
    "library.template_updated": _("Safety reply edited"),
    "library.template_approved": _("Safety reply approved"),
    "library.template_retired": _("Safety reply retired"),
    "contact.added": _("Guardian or emergency contact added"),
    "contact.updated": _("Guardian or emergency contact changed"),
    "contact.deactivated": _("Guardian or emergency contact removed"),
    "contact.invited": _("Contact invited again"),
    "contact.confirmed": _("Contact confirmed"),
    "contact.reconfirmed": _("Contact checked as still right"),
    "contact.declined": _("Contact declined"),
    "contact.skipped": _("Emergency contact skipped"),
    "guardian.consent_given": _("Guardian consent given"),
    "guardian.consent_withdrawn": _("Guardian consent withdrawn"),
    "guardian.character_blocked": _("Character turned off by the guardian"),
    "guardian.character_allowed": _("Character turned on again by the guardian"),
    "guardian.limits_set": _("Daily chat time and rest hours set by the guardian"),
    "guardian.history_deleted": _("Minor's chat history deleted by the guardian"),
    "guardian.spending_set": _("Purchases and spending limits set by the guardian"),
    "wallet.topped_up": _("Wallet topped up"),
    "wallet.purchased": _("Purchase made"),
    "wallet.purchase_requested": _("Purchase approval requested from the guardian"),
    "wallet.purchase_approved": _("Purchase approved by the guardian"),
    "wallet.purchase_declined": _("Purchase declined by the guardian"),
    "wallet.refunded": _("Purchase refunded"),
    "data.exported": _("Conversation exported"),
    "data.training_exported": _("Training-data extract made"),
    "data.export_requested": _("Copy of personal data requested"),
    "data.export_downloaded": _("Copy of personal data downloaded"),
    "data.conversation_deleted": _("Conversation deleted by the user"),
    "data.message_deleted": _("Message deleted by the user"),
    "data.conversations_deleted": _("All conversations deleted by the user"),
    "account.closed": _("Account closed and personal data deleted"),
    "profile.corrected": _("Profile details corrected"),
    "data.minors_audit_built": _("Minors' personal-information audit pack built"),
    "data.minor_access_requested": _("Asked to read a minor's message (second approver needed)"),
    "data.minor_access_approved": _("Approved reading a minor's message"),
    "data.impact_assessment_recorded": _("Personal-information impact assessment recorded"),
    "data.minors_audit_signed": _("Minors' personal-information audit signed off"),
    "data.minors_audit_reminded": _("Minors' personal-information audit reminder sent"),
    "minor_mode.switched_on": _("Minor mode switched on: suspected minor"),
    "minor_mode.appeal_filed": _("Minor mode appeal filed"),
    "minor_mode.appeal_viewed": _("Minor mode appeal viewed"),
    "minor_mode.appeal_granted": _("Minor mode appeal granted"),
    "minor_mode.appeal_refused": _("Minor mode appeal refused"),
    "complaint.filed": _("Complaint, report or appeal filed"),
    "complaint.viewed": _("Complaint opened by staff"),
    "complaint.assigned": _("Complaint taken up"),
    "complaint.answered": _("Complaint answered"),
    "complaint.escalated": _("Complaint escalated as complex"),
    "complaint.resolved": _("Complaint resolved"),
    "complaint.overdue": _("Complaint overdue: team alerted"),
    "notice.scheduled": _("Service notice scheduled"),
    "notice.cancelled": _("Service notice cancelled"),
    "notice.took_effect": _("Service notice took effect: chat ended"),
    "incident.opened": _("Outage statement published"),
    "incident.resolved": _("Outage resolved with an incident note"),
    "regulator.viewed": _("Regulator site viewed"),
    "audit.viewed": _("Audit log viewed"),
    "audit.purged": _("Audit rows past retention purged"),
    "retention.purged": _("Records past retention purged"),
    "consent.granted": _("Consent given"),
    "consent.withdrawn": _("Consent withdrawn"),
    "identity.code_sent": _("Mobile verification code sent"),
    "identity.code_refused": _("Mobile verification code refused"),
    "identity.phone_verified": _("Mobile number verified"),
    "account.age_band_changed": _("Age band changed (birthday)"),
}

# Who is acting and from where, for the current request (AuditContextMiddleware). The actor
# is looked up only when a row is written, so requests that audit nothing never load the user.
_context: contextvars.ContextVar[tuple[Callable[[], int | None], str | None]] = contextvars.ContextVar(
    "audit_context", default=(lambda: None, None))


def bind_request(request) -> contextvars.Token:
    def actor_id() -> int | None:
        user = getattr(request, "user", None)
        return user.pk if user is not None and user.is_authenticated else None
    return _context.set((actor_id, request.META.get("REMOTE_ADDR")))


def reset_context(token: contextvars.Token) -> None:
    _context.reset(token)


# --- keys and hashing (pure) ---------------------------------------------------------------------

def chain_keys() -> dict[str, bytes]:
    """Key id → key, newest first. AUDIT_CHAIN_KEYS unset: one key derived from SECRET_KEY (dev)."""
    secrets = list(settings.AUDIT_CHAIN_KEYS) or [
        hmac.new(settings.SECRET_KEY.encode(), b"haven-audit-chain", hashlib.sha256).hexdigest()]
    return {hashlib.sha256(secret.encode()).hexdigest()[:12]: secret.encode() for secret in secrets}


def canonical(*, created_at: dt.datetime, action: str, actor_id: int | None, subject_type: str, subject_id: str,
              ip: str | None, data: dict) -> bytes:
    """The bytes a row's hash covers: stable across databases (UTC, sorted keys, no spaces)."""
    stamp = created_at.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")
    # Databases print some addresses differently (PostgreSQL "::ffff:1.2.3.4", Python "::ffff:102:304").
    address = ipaddress.ip_address(ip).exploded if ip else None
    return json.dumps([stamp, action, actor_id, subject_type, subject_id, address, data], ensure_ascii=False,
                      sort_keys=True, separators=(",", ":")).encode()


def row_hash(key: bytes, prev_hash: str, payload: bytes) -> str:
    return hmac.new(key, prev_hash.encode() + payload, hashlib.sha256).hexdigest()


def _clean_ip(ip: str | None) -> str | None:
    if not ip:
        return None
    try:
        return str(ipaddress.ip_address(ip.strip()))
    except ValueError:
        return None


def _check_data(value, path: str = "data") -> None:
    """Details are JSON scalars, lists and string-keyed objects; floats would not survive every
    database's JSON type byte for byte, so they are refused (store milliseconds as int)."""
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_data(item, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: keys must be strings")
            _check_data(item, f"{path}.{key}")
        return
    raise TypeError(f"{path}: {type(value).__name__} is not allowed in audit details")


# --- writing --------------------------------------------------------------------------------------

def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK])


CONTEXT = object()  # `record(actor=...)` default: whoever the current request or task acts for


def record(action: str, *, actor=CONTEXT, subject_type: str = "", subject_id: object = "",
           data: dict | None = None, ip: str | None = None) -> AuditEvent:
    """Append one row in the caller's transaction (it commits or rolls back with the action it
    records). `actor` is a user, a user id, None for the system, or by default the current
    request's user (AuditContextMiddleware); `ip` defaults to the request's client address."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; add it to accounts.audit.ACTIONS")
    data = dict(data or {})
    _check_data(data)
    context_actor, context_ip = _context.get()
    if actor is CONTEXT:
        actor_id = context_actor()
    else:
        actor_id = actor if actor is None or isinstance(actor, int) else actor.pk
    subject_id = "" if subject_id is None else str(subject_id)
    ip = _clean_ip(ip if ip is not None else context_ip)
    key_id, key = next(iter(chain_keys().items()))
    with transaction.atomic():
        _lock_chain()
        prev_hash = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or GENESIS
        created_at = timezone.now()
        payload = canonical(created_at=created_at, action=action, actor_id=actor_id, subject_type=subject_type,
                            subject_id=subject_id, ip=ip, data=data)
        return AuditEvent.objects.create(
            created_at=created_at, action=action, actor_id=actor_id, subject_type=subject_type,
            subject_id=subject_id, ip=ip, data=data, key_id=key_id, prev_hash=prev_hash,
            hash=row_hash(key, prev_hash, payload))


# --- verifying ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    row_id: int
    kind: str  # "edited" | "broken_link" | "unknown_key" | "missing_anchor"
    detail: str


@dataclass
class ChainReport:
    checked: int = 0
    first_id: int | None = None
    head_id: int | None = None
    head_hash: str = GENESIS
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _rows(batch: int) -> Iterator[AuditEvent]:
    return AuditEvent.objects.order_by("id").iterator(chunk_size=batch)


def verify_chain(*, anchors: list[tuple[int, str]] = (), batch: int = 2000) -> ChainReport:
    """Recompute every row's hash and link, oldest first. The first row may follow the genesis value
    or the last row an `audit.purged` event says it removed. Each anchor (id, hash) recorded
    earlier (`export_anchor`) must still be in the chain unless a recorded purge removed it: that
    catches rows cut off the end, which links alone cannot."""
    keys = chain_keys()
    report = ChainReport()
    purges = [data for data in AuditEvent.objects.filter(action="audit.purged").values_list("data", flat=True)
              if isinstance(data, dict) and "through_hash" in data]
    purge_anchors = {data["through_hash"] for data in purges}
    purged_through = max((int(data.get("through_id", 0)) for data in purges), default=0)
    previous: str | None = None
    for row in _rows(batch):
        report.checked += 1
        if report.first_id is None:
            report.first_id = row.pk
            if row.prev_hash != GENESIS and row.prev_hash not in purge_anchors:
                report.problems.append(Problem(row.pk, "broken_link", "the oldest row follows a row that no "
                                                                      "recorded purge removed"))
        elif row.prev_hash != previous:
            report.problems.append(Problem(row.pk, "broken_link", "does not follow the row before it: a row "
                                                                  "was removed, inserted or reordered"))
        key = keys.get(row.key_id)
        if key is None:
            report.problems.append(Problem(row.pk, "unknown_key", f"signed with unknown key {row.key_id}"))
        else:
            payload = canonical(created_at=row.created_at, action=row.action, actor_id=row.actor_id,
                                subject_type=row.subject_type, subject_id=row.subject_id, ip=row.ip, data=row.data)
            if not hmac.compare_digest(row_hash(key, row.prev_hash, payload), row.hash):
                report.problems.append(Problem(row.pk, "edited", "content does not match its hash"))
        previous = row.hash
        report.head_id, report.head_hash = row.pk, row.hash
    for anchor_id, anchor_hash in anchors:
        if AuditEvent.objects.filter(pk=anchor_id, hash=anchor_hash).exists():
            continue
        if anchor_id <= purged_through and not AuditEvent.objects.filter(pk=anchor_id).exists():
            continue  # removed by a recorded purge, past retention
        report.problems.append(Problem(anchor_id, "missing_anchor", "an anchor exported earlier is no longer in "
                                                                    "the chain: rows were cut off or rewritten"))
    return report


def chain_head() -> tuple[int, str] | None:
    return AuditEvent.objects.order_by("-id").values_list("id", "hash").first()


def export_anchor(*, now: dt.datetime | None = None) -> tuple[int, str] | None:
    """BX-11 daily anchor: append the current head to AUDIT_ANCHOR_FILE (a path outside the
    database: mount it on other storage, or ship it off the host) and to the application log.
    `verify_audit --anchors FILE` later proves that nothing was cut off the end since."""
    head = chain_head()
    if head is None:
        return None
    line = json.dumps({"at": (now or timezone.now()).isoformat(), "id": head[0], "hash": head[1]})
    path = settings.AUDIT_ANCHOR_FILE
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    logger.info("audit anchor %s", line)
    return head


def read_anchors(path: str | Path) -> list[tuple[int, str]]:
    """Anchors from a file `export_anchor` wrote; a line that is not an anchor is an error."""
    anchors = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            anchors.append((int(item["id"]), str(item["hash"])))
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"{path}:{number}: not an audit anchor") from None
    return anchors


# --- retention ------------------------------------------------------------------------------------

def retention_days() -> int:
    return max(MIN_RETENTION_DAYS, int(settings.AUDIT_RETENTION_DAYS))


@transaction.atomic(durable=True)
def purge_expired(*, now: dt.datetime | None = None) -> int:
    """Delete the oldest rows past the retention period (CN-DAT-08), always a prefix of the chain,
    and append an `audit.purged` row naming the last one removed, so the chain still verifies.
    Idempotent: nothing past retention, nothing done."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=retention_days())
    _lock_chain()
    first_kept = AuditEvent.objects.filter(created_at__gte=cutoff).order_by("id").values_list("id", flat=True).first()
    expired = AuditEvent.objects.filter(created_at__lt=cutoff)
    if first_kept is not None:
        expired = expired.filter(id__lt=first_kept)  # a prefix only: clock skew must not punch holes
    last = expired.order_by("-id").values("id", "hash", "created_at").first()
    if last is None:
        return 0
    count = expired.count()
    record("audit.purged", actor=None, ip="", data={
        "through_id": last["id"], "through_hash": last["hash"], "count": count,
        "retention_days": retention_days(), "cutoff": cutoff.isoformat()})
    AuditEvent.objects.filter(id__lte=last["id"]).delete()
    return count
