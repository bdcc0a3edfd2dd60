"""The privacy centre's data rights (CN-DAT-04, CN-DAT-05, CN-DAT-09, BX-10): a full copy of what we
hold about a person, and deletion of one message, one conversation, all of them, or the whole account.

Export: `start_export` queues `build_export` (Celery, after commit), which writes progress as it
goes and stores the finished ZIP encrypted in the `DataExport` row: `data.json` with everything, a
readable `index.html`, and each conversation as the labelled HTML the chat page downloads.

Deletion: conversations go with their messages, the crisis cases held on them and those cases'
timelines; a single message goes alone (the reply to it stays, detached; a resolved case or a
complaint that named it keeps its row without the link). Either way the person's prepared copies go
too, since they would still hold what was deleted. While a safety case is open nothing can be
deleted (the safety team is acting on it).
Closing the account deletes every row of personal data that points at the person and keeps only
what the law needs, pseudonymised: the account row itself becomes an anonymous stub (so sanction
records, CN-CRI-09, keep their link), safety notifications keep their delivery log without the
contact's address, and the audit log never held names or text in the first place.
"""
from __future__ import annotations

import datetime as dt
import html
import io
import json
import secrets
import zipfile

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts import audit
from accounts.fields import field_cipher
from accounts.models import Consent, User
from companion.exports import conversation_export, render_export_html
from companion.models import (CaseStatus, Complaint, Conversation, CrisisCase, DataExport, ExportStatus, Message,
                              MessageStatus, Reminder)
from companion.refusals import Refused
from guardians.models import Contact, Notification


class PrivacyRefused(Refused):
    """A copy or deletion request that cannot be carried out now (the message says why)."""


# --- export ---------------------------------------------------------------------------------------

def _iso(value) -> str | None:
    return value.isoformat() if value else None


def collect(user: User, *, language: str, on_progress=None) -> dict:
    """Everything about `user`, as plain data. `on_progress(percent)` is called as conversations
    are read (they are most of the work)."""
    conversations = list(Conversation.objects.filter(user=user).select_related("character").order_by("created_at"))
    exported = []
    for index, conversation in enumerate(conversations, start=1):
        exported.append(conversation_export(conversation, language=language))
        if on_progress:
            on_progress(int(90 * index / len(conversations)))
    profile = {"username": user.username, "email": user.email, "first_name": user.first_name,
               "date_of_birth": _iso(user.birth_date), "age_band": str(user.age_band), "region": user.region,
               "language": user.language, "joined": _iso(user.date_joined)}
    for name in ("phone", "phone_verified_at"):  # identity fields, where the account has them
        if hasattr(user, name):
            value = getattr(user, name)
            profile[name] = _iso(value) if isinstance(value, dt.datetime) else value
    return {
        "format": "haven-personal-data/1",
        "generated_at": timezone.now().isoformat(),
        "service": settings.COMPANION_SERVICE_NAME,
        "profile": profile,
        "consents": [{"purpose": row.purpose, "version": row.version, "given": row.granted, "at": _iso(row.at),
                      "source": row.source} for row in Consent.objects.filter(user=user).order_by("at", "id")],
        "contacts": [{"kind": row.kind, "name": row.name, "relationship": row.relationship, "email": row.email,
                      "phone": row.phone, "language": row.language, "active": row.active,
                      "confirmed_at": _iso(row.verified_at), "declined_at": _iso(row.declined_at),
                      "guardian_consent_at": _iso(row.consent_at),
                      "guardian_consent_withdrawn_at": _iso(row.consent_revoked_at)}
                     for row in Contact.objects.filter(user=user).order_by("pk")],
        # The minors this account is guardian of (CN-MIN-03): who, and the consent given.
        "guardian_of": [{"account": row.user.username, "consent_at": _iso(row.consent_at),
                         "consent_version": row.consent_version, "withdrawn_at": _iso(row.consent_revoked_at)}
                        for row in Contact.objects.filter(account=user).select_related("user").order_by("pk")],
        "reminders": [{"kind": row.kind, "text": row.text, "shown_at": _iso(row.created_at),
                       "acknowledged_at": _iso(row.acknowledged_at)}
                      for row in Reminder.objects.filter(user=user).order_by("created_at", "id")],
        "safety_cases": [{"reference": str(case.public_id), "level": case.level, "categories": case.categories,
                          "opened_at": _iso(case.opened_at), "status": case.status, "outcome": case.outcome,
                          "resolved_at": _iso(case.resolved_at),
                          "steps": [{"kind": event.kind, "at": _iso(event.at)} for event in case.events.order_by("at")]}
                         for case in CrisisCase.objects.filter(user=user).order_by("opened_at")],
        "complaints": [{"reference": row.reference, "kind": row.kind, "about": row.target, "category": row.category,
                        "text": row.text, "status": row.status, "answer": row.answer, "outcome": row.outcome,
                        "filed_at": _iso(row.created_at), "resolved_at": _iso(row.resolved_at)}
                       for row in Complaint.objects.filter(user=user).order_by("created_at")],
        "conversations": exported,
    }


def _index_html(data: dict, files: list[tuple[str, str]], language: str) -> str:
    with translation.override(language):
        title = gettext("Your data at %(service)s") % {"service": data["service"]}
        rows = "".join(f"<li><a href=\"{html.escape(name)}\">{html.escape(label)}</a></li>" for name, label in files)
        headings = (gettext("Profile"), gettext("Conversations"),
                    gettext("Everything else (consents, contacts, reminders, safety cases, complaints) is in "
                            "data.json."))
        profile = "".join(f"<tr><th>{html.escape(str(key))}</th><td>{html.escape(str(value))}</td></tr>"
                          for key, value in data["profile"].items())
        return (f"<!DOCTYPE html><html lang=\"{language}\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}"
                f"</title></head><body><h1>{html.escape(title)}</h1><p>{html.escape(data['generated_at'])}</p>"
                f"<h2>{html.escape(headings[0])}</h2><table>{profile}</table>"
                f"<h2>{html.escape(headings[1])}</h2><ul>{rows}</ul><p>{html.escape(headings[2])}</p>"
                f"</body></html>")


def build_archive(data: dict, language: str) -> bytes:
    buffer = io.BytesIO()
    files = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", json.dumps(data, ensure_ascii=False, indent=2))
        for index, conversation in enumerate(data["conversations"], start=1):
            slug = conversation["conversation"]["character"]["slug"]
            name = f"conversations/{index:03d}-{slug}.html"
            archive.writestr(name, render_export_html(conversation))
            files.append((name, conversation["conversation"]["character"].get("name") or slug))
        archive.writestr("index.html", _index_html(data, files, language))
    return buffer.getvalue()


@transaction.atomic(durable=True)
def start_export(*, user: User) -> DataExport:
    """Queue a copy; one running at a time (asking again while one is prepared returns it)."""
    User.objects.select_for_update().filter(pk=user.pk).first()
    running = DataExport.objects.filter(user=user, status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING]).first()
    if running is not None:
        return running
    export = DataExport.objects.create(user=user)
    audit.record("data.export_requested", actor=user, subject_type="data_export", subject_id=export.public_id)
    from companion.tasks import build_data_export  # tasks import this module
    export_id = export.pk
    transaction.on_commit(lambda: build_data_export.delay(export_id))
    return export


def _set_progress(export_id: int, percent: int) -> None:
    DataExport.objects.filter(pk=export_id).update(progress=percent, status=ExportStatus.RUNNING)


def build_export(*, export_id: int) -> bool:
    """The Celery task's body. Idempotent: a finished or vanished export is left alone."""
    export = DataExport.objects.select_related("user").filter(pk=export_id).first()
    if export is None or export.status in (ExportStatus.READY, ExportStatus.FAILED):
        return False
    _set_progress(export_id, 1)
    language = export.user.language
    data = collect(export.user, language=language, on_progress=lambda percent: _set_progress(export_id, percent))
    payload = build_archive(data, language)
    now = timezone.now()
    with transaction.atomic():
        updated = DataExport.objects.filter(pk=export_id).exclude(status=ExportStatus.READY).update(
            status=ExportStatus.READY, progress=100, finished_at=now, size=len(payload),
            expires_at=now + dt.timedelta(days=settings.COMPANION_DATA_EXPORT_DAYS),
            archive=field_cipher().encrypt(payload))
    return bool(updated)


def export_file(*, user: User, public_id) -> tuple[DataExport, bytes]:
    """The owner's finished, unexpired copy, decrypted; the download is audited. One error
    (DataExport.DoesNotExist) for missing, not yours, not ready and expired."""
    export = DataExport.objects.filter(public_id=public_id, user=user, status=ExportStatus.READY,
                                       expires_at__gt=timezone.now()).first()
    if export is None:
        raise DataExport.DoesNotExist
    audit.record("data.export_downloaded", actor=user, subject_type="data_export", subject_id=export.public_id,
                 data={"bytes": export.size})
    return export, field_cipher().decrypt(bytes(export.archive))


def purge_expired_exports(cutoff: dt.datetime) -> int:
    """Retention: finished copies past their expiry (and any left unfinished for a day) go."""
    stale = DataExport.objects.filter(expires_at__lt=cutoff) | DataExport.objects.filter(
        finished_at=None, created_at__lt=cutoff - dt.timedelta(days=1))
    return stale.delete()[0]


# --- deletion -------------------------------------------------------------------------------------

def _refuse_during_open_case(user: User) -> None:
    if CrisisCase.objects.filter(user=user).exclude(status=CaseStatus.RESOLVED).exists():
        raise PrivacyRefused("open_case", gettext(
            "Our safety team is still looking after you, so nothing can be deleted right now. "
            "You can delete once the case is closed."))


@transaction.atomic(durable=True)
def delete_conversation(*, user: User, public_id) -> int:
    """Delete one conversation with its messages and the resolved safety cases held on it."""
    User.objects.select_for_update().filter(pk=user.pk).first()
    _refuse_during_open_case(user)
    conversation = Conversation.objects.filter(user=user, public_id=public_id).first()
    if conversation is None:
        raise PrivacyRefused("not_found", gettext("No such conversation."))
    messages = conversation.messages.count()
    conversation.delete()
    audit.record("data.conversation_deleted", actor=user, subject_type="conversation", subject_id=public_id,
                 data={"messages": messages})
    return messages


@transaction.atomic(durable=True)
def delete_message(*, user: User, public_id) -> str:
    """Delete one message of one of the user's conversations (CN-DAT-05) and the user's prepared
    copies, which would still hold it. Returns the conversation's public id. A reply to the message
    is kept (detached from it): only what the person chose goes. A reply still being written cannot
    be deleted until it is finished (the writer would store it again)."""
    User.objects.select_for_update().filter(pk=user.pk).first()
    _refuse_during_open_case(user)
    message = (Message.objects.select_related("conversation").select_for_update(of=("self",))
               .filter(public_id=public_id, conversation__user=user).first())
    if message is None:
        raise PrivacyRefused("not_found", gettext("No such message."))
    if message.status == MessageStatus.STREAMING:
        raise PrivacyRefused("streaming", gettext(
            "This reply is still being written. You can delete it once it is finished."))
    conversation = message.conversation
    Message.objects.filter(reply_to=message).update(reply_to=None)
    message.delete()  # a case's trigger and a complaint's message link are SET_NULL
    exports = DataExport.objects.filter(user=user).delete()[0]  # copies would still hold the message
    audit.record("data.message_deleted", actor=user, subject_type="message", subject_id=public_id,
                 data={"conversation": str(conversation.public_id), "exports": exports})
    return str(conversation.public_id)


@transaction.atomic(durable=True)
def delete_all_conversations(*, user: User) -> int:
    User.objects.select_for_update().filter(pk=user.pk).first()
    _refuse_during_open_case(user)
    conversations = Conversation.objects.filter(user=user)
    count = conversations.count()
    conversations.delete()
    DataExport.objects.filter(user=user).delete()  # copies would still hold the deleted chats
    audit.record("data.conversations_deleted", actor=user, subject_type="user", subject_id=user.pk,
                 data={"conversations": count})
    return count


# Rows that stay when an account closes, and why: everything else pointing at the account is deleted.
RETAINED_ON_CLOSURE = {
    "companion.Sanction": "CN-CRI-09: records of measures are kept; they name a pseudonymous stub",
    "companion.DrillRun": "BX-16: drill records (synthetic accounts only)",
    "guardians.Notification": "CN-CRI-07 delivery log, kept without the contact's address",
}


def _user_sessions(user: User) -> list[str]:
    keys = []
    for session in Session.objects.all().iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            keys.append(session.session_key)
    return keys


@transaction.atomic(durable=True)
def close_account(*, user: User, password: str) -> None:
    """Delete the account's personal data everywhere it lives (BX-10) and leave an anonymous stub.
    Asks for the password again. Signs the person out on every device."""
    User.objects.select_for_update().filter(pk=user.pk).first()
    if not user.has_usable_password() or not check_password(password, user.password):
        raise PrivacyRefused("password", gettext("That password is not right."))
    _refuse_during_open_case(user)
    removed = {}
    for relation in User._meta.related_objects:
        model = relation.related_model
        label = model._meta.label
        if label in RETAINED_ON_CLOSURE or not (relation.one_to_many or relation.one_to_one):
            continue
        rows = model._default_manager.filter(**{relation.field.name: user})
        count = rows.count()
        if not count:
            continue
        if relation.field.null and label not in {"companion.Conversation", "companion.Complaint"}:
            rows.update(**{relation.field.name: None})  # someone else's row that names this account
        else:
            rows.delete()
        removed[label] = count
    # The delivery log stays (retention table) but without anything that identifies the person.
    Notification.objects.filter(user=user).update(address="", subject="", body="")
    Session.objects.filter(session_key__in=_user_sessions(user)).delete()
    stub = f"closed-{secrets.token_hex(8)}"
    user.username, user.email, user.first_name, user.last_name = stub, "", "", ""
    user.birth_date, user.is_active, user.is_staff, user.is_superuser = None, False, False, False
    for name in ("phone", "phone_verified_at"):
        if hasattr(user, name):
            setattr(user, name, None if User._meta.get_field(name).null else "")
    user.set_unusable_password()
    user.save()
    user.groups.clear()
    audit.record("account.closed", actor=user, subject_type="user", subject_id=user.pk,
                 data={"removed": removed})

