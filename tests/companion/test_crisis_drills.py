"""Monthly end-to-end crisis drills (BX-16) with synthetic accounts, kept out of the statistics (CN-CRI-10).

Real commits (transaction=True): the drill runs service after service, and the contact notification
is delivered on commit as in production.
"""
import datetime as dt
import io
import logging
import threading
import time

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from companion.crisis import claim_case, open_case_of, queue
from companion.drills import DRILL_USERNAME_PREFIX, drill_username, is_drill_account
from companion.models import CaseEvent, CaseEventKind, CaseOutcome, CaseStatus, CrisisCase, DrillRun, Message
from companion.reports import crisis_month
from companion.services import open_chat, post_user_message
from companion.tasks import run_monthly_crisis_drill
from guardians.models import Notification
from tests.fixtures import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

CRISIS_EN = "I can't do this anymore. I've got the pills ready and I'm going to end it tonight."


@pytest.fixture
def operator(demo):
    user = UserFactory(language="en", username="mei")
    user.groups.add(Group.objects.get(name="operator"))
    return user


def this_month():
    now = timezone.localtime()
    return now.year, now.month


def test_automated_drill_times_all_four_steps_and_passes(operator, mailoutbox):
    """BX-16: detection, template, operator accept and contact notification, each timed; the case leaves the queue."""
    out = io.StringIO()
    call_command("crisis_drill", operator="mei", stdout=out)
    run = DrillRun.objects.get()
    assert run.outcome == DrillRun.Outcome.PASS, run.notes
    times = [run.detection_seconds, run.template_seconds, run.accept_seconds, run.notification_seconds]
    assert all(value is not None and 0 <= value < 60 for value in times)
    assert run.detection_seconds <= run.template_seconds <= run.accept_seconds
    assert run.automated and run.operator == operator and run.finished_at is not None
    assert run.user.username == drill_username(timezone.now()) and is_drill_account(run.user)
    assert f"drill {run.pk} passed" in out.getvalue()

    # The real path: the message stored with its verdict, a case, a preset reply, a claim by the operator.
    case = run.case
    trigger = Message.objects.get(pk=case.trigger_id)
    assert trigger.risk_level in ("high_risk", "crisis") and trigger.conversation.user == run.user
    kinds = list(case.events.values_list("kind", flat=True))
    assert {"opened", "safety_reply", "contacts_notified", "claimed", "resolved"} <= set(kinds)
    assert case.claimed_by == operator
    assert (case.status, case.outcome, case.follow_up) == (CaseStatus.RESOLVED, CaseOutcome.FALSE_POSITIVE, "drill")
    assert case not in queue()
    # The only contact is the drill mailbox, and it was told (never what was written).
    assert [mail.to for mail in mailoutbox] == [["drill@localhost"]]
    assert "pills" not in mailoutbox[0].body
    assert Notification.objects.get(event_key=f"case:{case.public_id}").status == "sent"

    # A second drill in the month reuses the synthetic account and passes again.
    call_command("crisis_drill", operator="mei", stdout=io.StringIO())
    assert DrillRun.objects.filter(user=run.user, outcome="pass").count() == 2
    assert CrisisCase.objects.filter(user=run.user).count() == 2


def test_drill_without_an_operator_records_not_accepted_and_fails(demo, settings, mailoutbox):
    settings.COMPANION_DRILL_CONTACT_EMAIL = "drills@example.com"
    with pytest.raises(CommandError, match="failed"):
        call_command("crisis_drill", wait_seconds=0, stdout=io.StringIO())
    run = DrillRun.objects.get()
    assert run.outcome == DrillRun.Outcome.FAIL and not run.automated
    assert run.accept_seconds is None and "not accepted" in run.notes
    assert None not in (run.detection_seconds, run.template_seconds, run.notification_seconds)
    assert [mail.to for mail in mailoutbox] == [["drills@example.com"]]
    # Nobody claimed, yet the drill case left the queue, closed as a drill.
    case = CrisisCase.objects.get(pk=run.case_id)
    assert case.status == CaseStatus.RESOLVED and case.follow_up == "drill" and case.claimed_by is None
    assert CaseEvent.objects.filter(case=case, kind=CaseEventKind.RESOLVED, detail__drill=True).exists()
    assert queue() == []


@pytest.mark.skipif(connection.vendor == "sqlite", reason="a second thread writing needs PostgreSQL (CI=true)")
def test_a_person_claiming_in_the_console_is_timed(operator):
    """Without --operator the drill waits for a human claim (the console's `claim_case`)."""
    def claim_when_it_appears():
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                case = CrisisCase.objects.filter(user__username__startswith=DRILL_USERNAME_PREFIX,
                                                 status=CaseStatus.WAITING).first()
                if case is not None:
                    time.sleep(0.5)
                    claim_case(operator=operator, case_id=str(case.public_id))
                    return
                time.sleep(0.05)
        finally:
            connection.close()

    claimer = threading.Thread(target=claim_when_it_appears)
    claimer.start()
    call_command("crisis_drill", wait_seconds=20, stdout=io.StringIO())
    claimer.join()
    run = DrillRun.objects.get()
    assert run.outcome == DrillRun.Outcome.PASS, run.notes
    assert run.operator is None and not run.automated
    assert 0.5 <= run.accept_seconds < 20
    case = CrisisCase.objects.get(pk=run.case_id)
    assert case.claimed_by == operator and case.status == CaseStatus.RESOLVED


def test_the_report_leaves_drill_cases_out_and_lists_the_drills(operator):
    """CN-CRI-10 counts real users only; BX-16's drill report sits beside it with all four times."""
    real = UserFactory(language="en")
    opening = open_chat(user=real, character_slug="friend", session_key="s", language="en")
    post_user_message(user=real, conversation_id=opening.conversation.pk, text=CRISIS_EN, client_id="c1",
                      language="en")
    call_command("crisis_drill", operator="mei", stdout=io.StringIO())
    assert CrisisCase.objects.count() == 2

    report = crisis_month(*this_month())
    assert report["cases_opened"] == 1
    assert report["takeovers"] == 0 and report["cases_by_outcome"]["false_positive"] == 0
    assert report["notifications"]["email"]["sent"] == 0  # the drill mailbox's notice is not counted
    [drill] = report["drills"]
    assert drill["outcome"] == "pass" and drill["operator"] == "mei"
    assert None not in (drill["detection_seconds"], drill["template_seconds"], drill["accept_seconds"],
                        drill["notification_seconds"])


def test_a_real_account_named_like_a_drill_is_neither_used_nor_left_out(operator):
    impostor = UserFactory(username=drill_username(timezone.now()), language="en")
    with pytest.raises(CommandError, match="real account"):
        call_command("crisis_drill", operator="mei", stdout=io.StringIO())
    assert not DrillRun.objects.exists() and not is_drill_account(impostor)
    opening = open_chat(user=impostor, character_slug="friend", session_key="s", language="en")
    post_user_message(user=impostor, conversation_id=opening.conversation.pk, text=CRISIS_EN, client_id="c1",
                      language="en")
    assert crisis_month(*this_month())["cases_opened"] == 1


def test_a_leftover_drill_case_is_closed_before_the_next_drill(operator):
    """A drill that died mid-way leaves an open case and a running row; the next drill cleans both up."""
    call_command("crisis_drill", operator="mei", stdout=io.StringIO())
    first = DrillRun.objects.get()
    user = first.user
    opening = open_chat(user=user, character_slug="friend", session_key="s", language="en")
    post_user_message(user=user, conversation_id=opening.conversation.pk, text=CRISIS_EN, client_id="stuck",
                      language="en")
    stuck = open_case_of(user)
    DrillRun.objects.create(user=user, started_at=timezone.now() - dt.timedelta(hours=1))

    call_command("crisis_drill", operator="mei", stdout=io.StringIO())
    stuck.refresh_from_db()
    assert stuck.status == CaseStatus.RESOLVED and stuck.follow_up == "drill"
    assert list(DrillRun.objects.order_by("id").values_list("outcome", flat=True)) == ["pass", "fail", "pass"]
    assert "interrupted" in DrillRun.objects.order_by("id")[1].notes


def test_an_unknown_operator_is_refused(demo):
    UserFactory(username="plain")
    for name in ("nobody", "plain"):
        with pytest.raises(CommandError, match="not an active operator"):
            call_command("crisis_drill", operator=name, stdout=io.StringIO())
    assert not DrillRun.objects.exists()


def test_the_monthly_task_needs_an_operator_and_runs_once_a_month(operator, settings, caplog):
    settings.COMPANION_DRILL_OPERATOR = ""
    with caplog.at_level(logging.WARNING, logger="companion.drills"):
        assert run_monthly_crisis_drill() == "skipped"
    assert "COMPANION_DRILL_OPERATOR" in caplog.text and not DrillRun.objects.exists()

    settings.COMPANION_DRILL_OPERATOR = "mei"
    assert run_monthly_crisis_drill() == "pass"
    assert run_monthly_crisis_drill() == "skipped"  # a redelivered task is a no-op
    run = DrillRun.objects.get()
    assert run.automated and run.operator == operator
