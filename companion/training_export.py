"""The training-data extract (CN-DAT-06, #8 item 6): only adults who gave the separate training
consent, re-checked for each person at extraction time, pseudonymised, with a manifest.

Left out, and counted in the manifest: everyone without a current training consent (never given,
withdrawn, or given to an older version), minors (by date of birth, whatever they consented to),
accounts without a date of birth (staff), drill accounts, and every conversation that ever had a
crisis case. Only user and AI turns that completed are kept; operator and system lines never are.
Names, emails and phone numbers in the text are replaced by placeholders, and people and
conversations appear as keyed pseudonyms that do not link back without the server's secret.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from accounts import audit
from accounts.consents import current_version, has_training_consent
from accounts.models import ConsentPurpose, User
from companion.assessments import in_force
from companion.models import Author, Conversation, CrisisCase, DrillRun, MessageStatus, SensitiveFeature

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Mainland mobile numbers and other long digit runs (ID numbers, bank cards, landlines).
PHONE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d{9}(?!\d)|(?<!\d)\d[\d -]{8,}\d(?!\d)")
ROLE = {Author.USER: "user", Author.AI: "assistant"}


def scrub(text: str) -> str:
    return PHONE.sub("[phone]", EMAIL.sub("[email]", text))


def pseudonym(kind: str, value: int) -> str:
    key = hashlib.sha256(f"training-export:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:16]


@dataclass
class ExtractReport:
    users_considered: int = 0
    users_included: int = 0
    excluded: dict[str, int] = field(default_factory=lambda: {
        "no_consent": 0, "minor": 0, "no_birth_date": 0, "drill": 0})
    conversations: int = 0
    conversations_with_crisis_cases: int = 0
    turns: int = 0


def _exclusion(user: User, drill_ids: set[int]) -> str | None:
    if user.pk in drill_ids:
        return "drill"
    if user.birth_date is None:
        return "no_birth_date"
    if user.is_minor:  # never minors' data (suspected minors too, CN-MIN-05), whatever they ticked
        return "minor"
    if not has_training_consent(user.pk):  # re-checked now, not at the start of a long run
        return "no_consent"
    return None


class NoImpactAssessment(Exception):
    """CN-DAT-10: the training extract provides data to others; it needs an assessment in force."""


def export_training_data(*, output_dir: Path, since: dt.date | None = None) -> ExtractReport:
    """Write `conversations.jsonl` and `manifest.json` into `output_dir` (created if missing) and
    record the extract in the audit log (counts only). Raises NoImpactAssessment when no impact
    assessment of the extract is in force (CN-DAT-10)."""
    if not in_force(SensitiveFeature.TRAINING_EXPORT):
        raise NoImpactAssessment
    output_dir.mkdir(parents=True, exist_ok=True)
    data_path, manifest_path = output_dir / "conversations.jsonl", output_dir / "manifest.json"
    report = ExtractReport()
    drill_ids = set(DrillRun.objects.values_list("user_id", flat=True))
    crisis_conversations = set(CrisisCase.objects.values_list("conversation_id", flat=True))
    candidates = User.objects.filter(consents__purpose=ConsentPurpose.TRAINING, consents__granted=True).distinct()
    digest = hashlib.sha256()
    with data_path.open("w", encoding="utf-8") as handle:
        for user in candidates.order_by("pk").iterator():
            report.users_considered += 1
            reason = _exclusion(user, drill_ids)
            if reason:
                report.excluded[reason] += 1
                continue
            report.users_included += 1
            conversations = Conversation.objects.filter(user=user).select_related("character").order_by("pk")
            for conversation in conversations:
                if conversation.pk in crisis_conversations:
                    report.conversations_with_crisis_cases += 1
                    continue
                messages = conversation.messages.filter(author__in=ROLE, status=MessageStatus.COMPLETE).order_by(
                    "created_at", "id")
                if since is not None:
                    messages = messages.filter(created_at__date__gte=since)
                turns = [{"role": ROLE[message.author], "text": scrub(message.text)} for message in messages]
                if not turns:
                    continue
                line = json.dumps({"conversation": pseudonym("conversation", conversation.pk),
                                   "speaker": pseudonym("user", user.pk), "character": conversation.character.slug,
                                   "language": conversation.character.language, "turns": turns},
                                  ensure_ascii=False) + "\n"
                handle.write(line)
                digest.update(line.encode())
                report.conversations += 1
                report.turns += len(turns)
    manifest = {
        "generated_at": timezone.now().isoformat(),
        "service": settings.COMPANION_SERVICE_NAME,
        "consent_purpose": ConsentPurpose.TRAINING.value,
        "consent_version": current_version(ConsentPurpose.TRAINING),
        "since": since.isoformat() if since else None,
        "rules": ["current separate training consent, re-checked per person at extraction (CN-DAT-06)",
                  "adults only: no one under 18 by date of birth", "no drill or staff accounts",
                  "no conversation that had a crisis case", "user and AI turns only, completed",
                  "emails and phone numbers replaced; people and conversations pseudonymised"],
        "counts": {"users_considered": report.users_considered, "users_included": report.users_included,
                   "excluded": report.excluded, "conversations": report.conversations,
                   "conversations_with_crisis_cases": report.conversations_with_crisis_cases,
                   "turns": report.turns},
        "files": {data_path.name: {"sha256": digest.hexdigest(), "bytes": data_path.stat().st_size}},
    }
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    audit.record("data.training_exported", actor=None, data={**manifest["counts"], "sha256": digest.hexdigest()})
    return report
