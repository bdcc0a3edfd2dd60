"""CN-DAT-08: the retention table in docs/retention.md is the code's, every model has a row, and the
nightly job removes exactly what has expired."""
import datetime as dt
import re
from pathlib import Path

import pytest
import time_machine
from django.apps import apps
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.models import AuditEvent
from companion.models import (Author, CaseEvent, CaseStatus, Character, Complaint, ComplaintStatus, Conversation,
                              CrisisCase, DependenceScore, Message, Reminder, Sanction)
from companion.retention import POLICIES
from companion.tasks import purge_expired_records
from guardians.models import Notification
from tests.fixtures import UserFactory

DOC = Path(__file__).resolve().parent.parent / "docs" / "retention.md"
OUR_APPS = ("accounts", "companion", "guardians", "moderation")


def doc_rows() -> list[tuple[str, ...]]:
    rows = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 4:
            rows.append((cells[0].strip("`"), *cells[1:]))
    return rows


def test_the_documented_table_is_the_codes_table():
    expected = [(policy.store, policy.kept_text(), policy.basis, policy.purge_text()) for policy in POLICIES]
    assert doc_rows() == expected


def test_every_model_has_a_retention_decision():
    models = {model._meta.label for model in apps.get_models() if model._meta.app_label in OUR_APPS}
    listed = {policy.store for policy in POLICIES if "." in policy.store}  # model labels, not named stores
    assert models - listed == set(), "add a row to companion/retention.py POLICIES and docs/retention.md"
    assert listed - models - {"sessions.Session"} == set()


def test_periods_never_fall_below_the_legal_floor(settings):
    assert settings.AUDIT_RETENTION_DAYS >= 184
    assert all(int(days) >= 180 for days in settings.COMPANION_RETENTION_DAYS.values())
    assert re.search(r"\b184\b", dict((row[0], row[1]) for row in doc_rows())["accounts.AuditEvent"])


def _case(user, *, resolved: bool) -> CrisisCase:
    conversation = Conversation.objects.create(user=user, character=Character.objects.get(slug="friend"))
    trigger = Message.objects.create(conversation=conversation, author=Author.USER, text="help", client_id="t")
    case = CrisisCase.objects.create(user=user, conversation=conversation, trigger=trigger, level="crisis",
                                     sla_deadline=timezone.now(),
                                     status=CaseStatus.RESOLVED if resolved else CaseStatus.WAITING,
                                     resolved_at=timezone.now() if resolved else None)
    CaseEvent.objects.create(case=case, kind="opened")
    Notification.objects.create(event_key=f"case:{case.public_id}", user=user, channel="email", level="crisis",
                                language="en", subject="s", body="b")
    return case


def _complaint(status: str) -> Complaint:
    now = timezone.now()
    return Complaint.objects.create(kind="report", target="service", category="other", text="x" * 10,
                                    due_at=now, status=status,
                                    resolved_at=now if status == ComplaintStatus.RESOLVED else None)


@pytest.mark.django_db(transaction=True)
def test_the_nightly_job_removes_only_what_has_expired(demo):
    user = UserFactory()
    now = timezone.now()
    with time_machine.travel(now - dt.timedelta(days=1100), tick=False):
        old_case = _case(user, resolved=True)
        _, old_open_complaint = _complaint(ComplaintStatus.RESOLVED), _complaint(ComplaintStatus.RECEIVED)
        Reminder.objects.create(user=user, kind="break", key="old", text="t")
        old_sanction = Sanction.objects.create(user=user, kind="suspend", reason="r", ends_at=timezone.now())
        DependenceScore.objects.create(user=user, scored_on=timezone.localdate())
        session = SessionStore()
        session.create()
    Session.objects.filter(session_key=session.session_key).update(expire_date=now - dt.timedelta(days=1))
    old_open_case = _case(UserFactory(), resolved=False)
    CrisisCase.objects.filter(pk=old_open_case.pk).update(opened_at=now - dt.timedelta(days=1100))
    with time_machine.travel(now - dt.timedelta(days=10), tick=False):
        new_case = _case(UserFactory(), resolved=True)
        new_complaint = _complaint(ComplaintStatus.RESOLVED)
        new_reminder = Reminder.objects.create(user=user, kind="break", key="new", text="t")
        DependenceScore.objects.create(user=user, scored_on=timezone.localdate())

    removed = purge_expired_records.delay().get()
    assert removed["companion.CrisisCase"] == 1 and removed["companion.Complaint"] == 1
    assert removed["companion.Reminder"] == 1 and removed["companion.Sanction"] == 1
    assert removed["companion.DependenceScore"] == 1 and removed["sessions.Session"] == 1
    assert not CrisisCase.objects.filter(pk=old_case.pk).exists()
    assert not CaseEvent.objects.filter(case_id=old_case.pk).exists()
    assert not Notification.objects.filter(event_key=f"case:{old_case.public_id}").exists()
    assert CrisisCase.objects.filter(pk__in=[old_open_case.pk, new_case.pk]).count() == 2  # open, or recent
    assert Notification.objects.filter(event_key=f"case:{new_case.public_id}").exists()
    assert set(Complaint.objects.values_list("pk", flat=True)) == {old_open_complaint.pk, new_complaint.pk}
    assert list(Reminder.objects.values_list("pk", flat=True)) == [new_reminder.pk]
    assert not Sanction.objects.filter(pk=old_sanction.pk).exists()
    assert DependenceScore.objects.count() == 1
    assert not Session.objects.filter(session_key=session.session_key).exists()
    row = AuditEvent.objects.get(action="retention.purged")
    assert row.data["companion.CrisisCase"] == 1 and row.actor_id is None

    again = purge_expired_records.delay().get()
    assert not any(again.values())
    assert AuditEvent.objects.filter(action="retention.purged").count() == 1
