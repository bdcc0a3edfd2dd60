"""Complaints, reports and appeals (CN-CMP-01..04, CN-CRI-09 appeals) through the real pages, the
services, the beat task and the mail outbox."""
import datetime as dt
import uuid

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from companion import complaints
from companion.models import (Author, Complaint, ComplaintKind, ComplaintStatus, Conversation, Message,
                              Sanction)
from companion.reports import month_bounds
from companion.sanctions import impose_sanction, notice_frame
from companion.tasks import flag_overdue_complaints
from tests.fixtures import UserFactory, client_for, staff

pytestmark = pytest.mark.django_db(transaction=True)  # mail goes out on commit

REPORT_TEXT = "This character keeps pushing people to spend money and it scared me."


def ai_reply(user, text="Sure, tell me more.") -> Message:
    from companion.models import Character
    conversation = Conversation.objects.create(user=user, character=Character.objects.get(slug="friend"))
    question = Message.objects.create(conversation=conversation, author=Author.USER, text="hi", client_id="c1")
    return Message.objects.create(conversation=conversation, author=Author.AI, text=text, reply_to=question)


@pytest.fixture(autouse=True)
def fresh_rate_limit():
    """The public form's per-address counter lives in the cache, which outlives a test."""
    cache.clear()


@pytest.fixture
def officer(demo):
    return staff("compliance", username="officer1", email="officer1@example.com")


# --- policies ------------------------------------------------------------------------------------

def test_working_days_skip_the_weekend():
    friday = timezone.make_aware(dt.datetime(2026, 11, 27, 10, 0))  # a Friday
    assert complaints.add_working_days(friday, 1).date() == dt.date(2026, 11, 30)
    assert complaints.add_working_days(friday, 3).date() == dt.date(2026, 12, 2)
    assert complaints.add_working_days(friday, 15).date() == dt.date(2026, 12, 18)


def test_due_dates_follow_the_published_deadlines():
    filed = timezone.make_aware(dt.datetime(2026, 11, 27, 10, 0))
    deadlines = complaints.Deadlines(acknowledge_hours=24, result_days=7, complex_working_days=15,
                                     triage_minutes=60, appeal_working_days=3)
    assert complaints.due_dates(kind="report", safety_related=True, filed_at=filed, deadlines=deadlines) == (
        filed + dt.timedelta(hours=1), filed + dt.timedelta(days=7))
    triage, due = complaints.due_dates(kind="appeal", safety_related=False, filed_at=filed, deadlines=deadlines)
    assert triage is None and due.date() == dt.date(2026, 12, 2)


# --- filing ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("language, heading, deadline", [
    ("en", "Complaints, reports and appeals", "We answer within 7 days."),
    ("zh-hans", "投诉、举报与申诉", "我们会在 7 天内答复。"),
])
def test_the_help_page_publishes_the_deadlines_signed_out(demo, language, heading, deadline):
    page = client_for(language=language).get(reverse("complaints_help")).content.decode()
    assert heading in page and deadline in page
    assert reverse("complaints_help") in client_for(language=language).get(reverse("home")).content.decode()


def test_someone_without_an_account_reports_a_character_and_follows_it_by_link(demo, mailoutbox):
    client = client_for()
    response = client.post(reverse("complaint_new"), {
        "kind": "report", "target": "character", "character": "friend", "category": "fraud",
        "text": REPORT_TEXT, "contact_email": "reporter@example.net"})
    complaint = Complaint.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("complaint_status", args=[complaint.public_id])
    assert complaint.user is None and complaint.character.slug == "friend" and complaint.acknowledged_at
    assert complaint.due_at - complaint.created_at == dt.timedelta(days=7) and complaint.triage_due_at is None
    page = client.get(response["Location"]).content.decode()
    assert complaint.reference in page and REPORT_TEXT in page
    assert [mail.to for mail in mailoutbox] == [["reporter@example.net"]]  # the acknowledgement
    assert complaint.reference in mailoutbox[0].subject and str(complaint.public_id) in mailoutbox[0].body
    assert AuditEvent.objects.filter(action="complaint.filed", actor_id=None, subject_id=str(complaint.public_id)).exists()


def test_without_an_account_only_reports_are_open_and_bad_input_saves_nothing(demo):
    client = client_for()
    for data, error in [
        ({"kind": "complaint", "target": "service", "category": "service", "text": REPORT_TEXT}, "kind"),
        ({"kind": "report", "target": "reply", "category": "illegal", "text": REPORT_TEXT}, "target"),
        ({"kind": "report", "target": "service", "category": "illegal", "text": "bad"}, "text"),
        ({"kind": "report", "target": "service", "category": "illegal", "text": REPORT_TEXT,
          "contact_email": "not-an-email"}, "contact_email"),
        ({"kind": "report", "target": "character", "category": "illegal", "text": REPORT_TEXT,
          "character": "no-such-one"}, "character"),
    ]:
        response = client.post(reverse("complaint_new"), data)
        assert response.status_code == 200, data
        assert response.context["form"].errors, data
    assert not Complaint.objects.exists()


def test_the_public_form_is_rate_limited(demo, settings):
    settings.COMPANION_COMPLAINTS_PER_HOUR = 2
    client = client_for()
    data = {"kind": "report", "target": "service", "category": "other", "text": REPORT_TEXT}
    assert [client.post(reverse("complaint_new"), data).status_code for _ in range(3)] == [302, 302, 200]
    assert Complaint.objects.count() == 2


def test_a_user_reports_their_own_ai_reply_but_not_someone_elses(demo):
    user, other = UserFactory(), UserFactory()
    reply, foreign = ai_reply(user), ai_reply(other)
    client = client_for(user)
    form = client.get(reverse("complaint_new"), {"message": str(reply.public_id)}).content.decode()
    assert "Sure, tell me more." in form  # the reply is shown back
    response = client.post(reverse("complaint_new"), {
        "kind": "complaint", "target": "reply", "category": "harmful_reply", "message": str(foreign.public_id),
        "text": REPORT_TEXT})
    assert response.status_code == 200 and not Complaint.objects.exists()
    response = client.post(reverse("complaint_new"), {
        "kind": "complaint", "target": "reply", "category": "harmful_reply", "message": str(reply.public_id),
        "text": REPORT_TEXT})
    complaint = Complaint.objects.get()
    assert (complaint.user, complaint.message, complaint.character.slug) == (user, reply, "friend")
    assert client_for(other).get(reverse("complaint_status", args=[complaint.public_id])).status_code == 404
    assert client_for().get(reverse("complaint_status", args=[complaint.public_id])).status_code == 302


def test_complaint_text_is_encrypted_at_rest(demo):
    complaints.file_complaint(user=None, kind="report", target="service", category="other",
                              text="canary-7f3e complaint text", contact_email="x@example.org", language="en")
    with connection.cursor() as cursor:
        cursor.execute("SELECT text, contact_email FROM companion_complaint")
        raw = cursor.fetchone()
    assert "canary-7f3e" not in raw[0] and "x@example.org" not in raw[1]


# --- staff workflow --------------------------------------------------------------------------------

@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_an_officer_takes_up_answers_and_resolves_and_the_person_sees_it(officer, mailoutbox, language):
    user = UserFactory(language=language)
    reply = ai_reply(user, "Buy the premium pack now or I will be sad.")
    complaint = complaints.file_complaint(user=user, kind="complaint", target="reply", category="manipulation",
                                          message_id=str(reply.public_id), text=REPORT_TEXT, language=language)
    desk = client_for(officer, language)
    queue = desk.get(reverse("complaint_staff_list")).content.decode()
    assert complaint.reference in queue
    detail = desk.get(reverse("complaint_staff_detail", args=[complaint.public_id])).content.decode()
    assert "Buy the premium pack now" in detail  # read under the ticket...
    assert AuditEvent.objects.filter(action="complaint.viewed", actor_id=officer.pk).exists()  # ...and recorded

    def act(action, **data):
        return desk.post(reverse("complaint_staff_action", args=[complaint.public_id, action]), data)

    assert act("assign").status_code == 302
    assert act("answer", answer="We have retrained this character; thank you.").status_code == 302
    assert act("resolve", outcome="upheld", answer="").status_code == 302
    complaint.refresh_from_db()
    assert (complaint.status, complaint.outcome, complaint.assignee) == (ComplaintStatus.RESOLVED, "upheld", officer)
    page = client_for(user, language).get(reverse("complaint_status", args=[complaint.public_id])).content.decode()
    assert "We have retrained this character; thank you." in page
    assert 'data-testid="status">%s<' % ("Resolved" if language == "en" else "已结案") in page
    to_user = [mail for mail in mailoutbox if mail.to == [user.email]]
    assert len(to_user) == 3  # acknowledged, answered, resolved
    assert "We have retrained this character" in to_user[1].body
    actions = list(AuditEvent.objects.filter(subject_id=str(complaint.public_id)).values_list("action", flat=True))
    for action in ("complaint.filed", "complaint.assigned", "complaint.answered", "complaint.resolved"):
        assert action in actions
    assert act("answer", answer="again").status_code == 302  # refused: already resolved
    complaint.refresh_from_db()
    assert complaint.answer == "We have retrained this character; thank you."


def test_resolving_needs_an_answer_and_an_outcome(officer):
    complaint = complaints.file_complaint(user=None, kind="report", target="service", category="other",
                                          text=REPORT_TEXT, language="en")
    with pytest.raises(complaints.ComplaintRefused) as refusal:
        complaints.resolve_complaint(staff=officer, complaint_id=str(complaint.public_id), outcome="upheld")
    assert refusal.value.code == "no_answer"
    with pytest.raises(complaints.ComplaintRefused):
        complaints.resolve_complaint(staff=officer, complaint_id=str(complaint.public_id), outcome="maybe",
                                     answer="x")
    complaint.refresh_from_db()
    assert complaint.status == ComplaintStatus.RECEIVED


def test_only_compliance_officers_act_and_regulators_only_read(demo):
    complaint = complaints.file_complaint(user=None, kind="report", target="service", category="other",
                                          text=REPORT_TEXT, language="en")
    detail = reverse("complaint_staff_detail", args=[complaint.public_id])
    assign = reverse("complaint_staff_action", args=[complaint.public_id, "assign"])
    assert client_for().get(detail).status_code == 302
    assert client_for(UserFactory()).get(detail).status_code == 403
    assert client_for(staff("operator")).get(reverse("complaint_staff_list")).status_code == 403
    regulator = client_for(staff("regulator"))
    assert regulator.get(reverse("complaint_staff_list")).status_code == 200
    assert regulator.get(detail).status_code == 200
    assert regulator.post(assign).status_code == 403
    assert client_for(staff("compliance")).get(assign).status_code == 405
    complaint.refresh_from_db()
    assert complaint.assignee is None


# --- deadlines and alerts --------------------------------------------------------------------------

def test_a_safety_report_alerts_at_once_and_again_if_nobody_takes_it_up_within_the_hour(officer, mailoutbox):
    complaint = complaints.file_complaint(user=None, kind="report", target="character", character_slug="friend",
                                          category="self_harm", text="It told my friend how to hurt herself.",
                                          language="zh-hans")
    assert complaint.safety_related and complaint.triage_due_at == complaint.created_at + dt.timedelta(hours=1)
    assert len(mailoutbox) == 1 and "officer1@example.com" in mailoutbox[0].to  # the team only: no reporter email
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=30)):
        assert flag_overdue_complaints.delay().get() == 0
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=61)):
        assert flag_overdue_complaints.delay().get() == 1
        assert flag_overdue_complaints.delay().get() == 0  # flagged once
        queue = client_for(officer).get(reverse("complaint_staff_list"), {"overdue": "on"}).content.decode()
    assert complaint.reference in queue and 'data-overdue="triage"' in queue
    alert = mailoutbox[-1]
    assert "officer1@example.com" in alert.to and complaint.reference in alert.subject and "超时" in alert.subject
    assert AuditEvent.objects.filter(action="complaint.overdue", subject_id=str(complaint.public_id),
                                     data__reason="triage").exists()


def test_an_unanswered_complaint_is_flagged_after_its_due_date_and_escalation_moves_it(officer, mailoutbox, settings):
    settings.COMPANION_COMPLAINTS_ALERT_EMAILS = ["desk@example.com"]
    user = UserFactory()
    complaint = complaints.file_complaint(user=user, kind="complaint", target="service", category="service",
                                          text=REPORT_TEXT, language="en")
    with time_machine.travel(complaint.due_at + dt.timedelta(minutes=1)):
        assert flag_overdue_complaints.delay().get() == 1
    assert mailoutbox[-1].to == ["desk@example.com"] and "超期" in mailoutbox[-1].subject  # the service's language
    complaints.escalate_complaint(staff=officer, complaint_id=str(complaint.public_id), note="Needs the vendor.")
    complaint.refresh_from_db()
    assert complaint.due_at == complaints.add_working_days(complaint.created_at, 15)
    assert complaint.overdue_alerted_at is None
    assert "More time" in mailoutbox[-1].subject and mailoutbox[-1].to == [user.email]
    page = client_for(user).get(reverse("complaint_status", args=[complaint.public_id])).content.decode()
    assert "extended the deadline" in page and "Needs the vendor" not in page  # the note is for staff
    with time_machine.travel(complaint.due_at - dt.timedelta(hours=1)):
        assert flag_overdue_complaints.delay().get() == 0
    with time_machine.travel(complaint.due_at + dt.timedelta(minutes=1)):
        assert flag_overdue_complaints.delay().get() == 1


# --- appeals -----------------------------------------------------------------------------------------

def test_an_appeal_is_decided_by_another_officer_and_an_upheld_one_lifts_the_sanction(officer, mailoutbox):
    user = UserFactory()
    reply = ai_reply(user)
    evidence = Message.objects.filter(conversation__user=user, author=Author.USER).first()
    sanction = impose_sanction(actor=officer, kind="suspend", reason="Threats.", evidence=[str(evidence.public_id)],
                               days=3, user_id=user.pk)
    assert reply
    client = client_for(user)
    page_link = notice_frame(sanction, "en")["appeal"]["page"]  # the link the suspended user is shown
    form = client.get(page_link)
    assert form.status_code == 200 and str(sanction.public_id) in form.content.decode()
    response = client.post(reverse("complaint_new"), {
        "kind": "appeal", "target": "sanction", "sanction": str(sanction.public_id), "category": "",
        "text": "I was quoting a film, not threatening anyone."})
    assert response.status_code == 302
    appeal = Complaint.objects.get(kind=ComplaintKind.APPEAL)
    assert appeal.sanction == sanction and appeal.due_at == complaints.add_working_days(appeal.created_at, 3)

    desk = client_for(officer)
    desk.post(reverse("complaint_staff_action", args=[appeal.public_id, "assign"]))
    desk.post(reverse("complaint_staff_action", args=[appeal.public_id, "resolve"]),
              {"outcome": "not_upheld", "answer": "Upheld my own decision."})
    appeal.refresh_from_db()
    assert appeal.status == ComplaintStatus.RECEIVED and appeal.assignee is None  # CN-CMP-03: not the same officer

    second = staff("compliance", username="officer2")
    complaints.resolve_complaint(staff=second, complaint_id=str(appeal.public_id), outcome="upheld",
                                 answer="You are right; the suspension is lifted.")
    sanction.refresh_from_db()
    assert sanction.lifted_at is not None and sanction.lifted_by == second and appeal.reference in sanction.lift_reason
    assert AuditEvent.objects.filter(action="sanction.lifted", actor_id=second.pk).exists()


def test_someone_cannot_appeal_a_measure_against_another_account(officer):
    user, other = UserFactory(), UserFactory()
    ai_reply(other)
    evidence = Message.objects.filter(conversation__user=other, author=Author.USER).first()
    sanction = impose_sanction(actor=officer, kind="restrict", reason="Spam.", evidence=[str(evidence.public_id)],
                               user_id=other.pk)
    with pytest.raises(complaints.ComplaintRefused):
        complaints.file_complaint(user=user, kind="appeal", target="sanction", category="", text=REPORT_TEXT,
                                  language="en", sanction_id=str(sanction.public_id))
    with pytest.raises(complaints.ComplaintRefused):
        complaints.file_complaint(user=user, kind="appeal", target="sanction", category="", text=REPORT_TEXT,
                                  language="en", sanction_id=str(uuid.uuid4()))
    assert not Complaint.objects.exists() and Sanction.objects.get().lifted_at is None


# --- statistics ----------------------------------------------------------------------------------------

def test_monthly_statistics_equal_the_ticket_table(officer):
    now = timezone.now()
    filed = [complaints.file_complaint(user=None, kind="report", target="service", category=category,
                                       text=REPORT_TEXT, language="en")
             for category in ("fraud", "fraud", "illegal", "self_harm")]
    complaints.answer_complaint(staff=officer, complaint_id=str(filed[0].public_id), answer="Handled.")
    complaints.resolve_complaint(staff=officer, complaint_id=str(filed[0].public_id), outcome="upheld")
    local = timezone.localtime(now)
    with time_machine.travel(now + dt.timedelta(hours=2)):
        stats = complaints.complaint_stats(*month_bounds(local.year, local.month))
    assert stats["total"] == Complaint.objects.count() == 4
    assert stats["by_category"] == {"fraud": 2, "illegal": 1, "self_harm": 1}
    assert stats["by_kind"] == {"report": 4}
    assert (stats["open"], stats["resolved"]) == (3, 1)
    assert stats["median_hours_to_acknowledge"] == 0
    assert stats["overdue"] == 1  # the self-harm report nobody took up within the hour
    page = client_for(officer).get(reverse("complaint_staff_list")).content.decode()
    assert 'data-testid="stat-total">4<' in page


# --- CN-DAT-02: a second approver before staff read a minor's message -------------------------------

def test_reading_a_minors_reported_message_needs_a_second_officers_approval(officer):
    second = staff("compliance", username="officer2", email="officer2@example.com")
    child = UserFactory(birth_date=timezone.localdate() - dt.timedelta(days=365 * 15 + 30))
    reply = ai_reply(child, text="A secret the child was told.")
    client_for(child).post(reverse("complaint_new"), {
        "kind": "report", "target": "reply", "category": "harmful_reply", "message": str(reply.public_id),
        "text": REPORT_TEXT})
    complaint = Complaint.objects.get()
    url = reverse("complaint_staff_detail", args=[complaint.public_id])
    first_client, second_client = client_for(officer), client_for(second)
    page = first_client.get(url).content.decode()
    assert "A secret the child was told." not in page and 'data-testid="minor-message-hidden"' in page
    action = lambda client, name, data: client.post(  # noqa: E731
        reverse("complaint_staff_action", args=[complaint.public_id, name]), data)
    action(first_client, "request-access", {"reason": ""})  # a reason is needed
    assert not complaint.minor_access.exists()
    action(first_client, "request-access", {"reason": "Check whether the reply broke the rules."})
    access = complaint.minor_access.get()
    action(first_client, "approve-access", {"request": access.pk})  # not one's own request
    access.refresh_from_db()
    assert access.approved_at is None
    assert "A secret the child was told." not in first_client.get(url).content.decode()
    action(second_client, "approve-access", {"request": access.pk})
    access.refresh_from_db()
    assert access.approver == second and access.expires_at > timezone.now()
    assert "A secret the child was told." in first_client.get(url).content.decode()
    assert "A secret the child was told." not in second_client.get(url).content.decode()  # the approver did not ask
    assert client_for(staff("regulator")).get(url).content.decode().count("A secret the child was told.") == 0
    actions = list(AuditEvent.objects.filter(subject_id=str(complaint.public_id)).values_list("action", "actor_id"))
    assert ("data.minor_access_requested", officer.pk) in actions and ("data.minor_access_approved", second.pk) in actions
    with time_machine.travel(timezone.now() + dt.timedelta(hours=25)):
        assert "A secret the child was told." not in first_client.get(url).content.decode()  # 24 hours only


def test_an_adults_reported_message_is_shown_without_a_second_approver(officer):
    adult = UserFactory()
    reply = ai_reply(adult, text="A reply to an adult.")
    client_for(adult).post(reverse("complaint_new"), {
        "kind": "report", "target": "reply", "category": "harmful_reply", "message": str(reply.public_id),
        "text": REPORT_TEXT})
    complaint = Complaint.objects.get()
    page = client_for(officer).get(reverse("complaint_staff_detail", args=[complaint.public_id])).content.decode()
    assert "A reply to an adult." in page and 'data-testid="minor-message-hidden"' not in page
