"""Safety notifications end to end through a real SMTP server and an HTTP SMS gateway (CN-CRI-07)."""
import datetime as dt
import smtplib

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from companion.models import Author, Character, Conversation, Message
from guardians import services
from guardians.models import Channel, ContactKind, Notification, Status
from guardians.services import notify_safety_concern
from guardians.tasks import deliver_notification
from tests.guardians.conftest import make_contact, make_guardian_account, make_user

pytestmark = pytest.mark.django_db

CHAT_TEXT = "I wrote a goodbye letter and I am standing on the Nanpu bridge"


@pytest.fixture
def minor_with_guardian():
    """A 13-year-old whose guardian has a portal account and is also reachable by email and SMS."""
    account = make_guardian_account(username="mum", email="mum@example.net", language="zh-hans")
    minor = make_user(13, username="xiaoming", first_name="Xiaoming", region="CN")
    guardian = make_contact(minor, ContactKind.GUARDIAN, name="Wang Fang", email="mum@example.net",
                            phone="+8613800138000", language="en", account=account)
    return minor, guardian, account


def test_notify_queues_one_row_per_contact_and_channel_and_a_portal_alert(minor_with_guardian,
                                                                          django_capture_on_commit_callbacks):
    minor, guardian, account = minor_with_guardian
    emergency = make_contact(minor, name="Uncle", email="", phone="+14155550100")
    with django_capture_on_commit_callbacks() as callbacks:
        rows = notify_safety_concern(user=minor, event_key="crisis:1", level="crisis")
    assert sorted((row.contact_id, row.channel) for row in rows) == sorted([
        (guardian.pk, Channel.EMAIL), (guardian.pk, Channel.SMS), (guardian.pk, Channel.PORTAL),
        (emergency.pk, Channel.SMS)])
    assert all(row.status == Status.PENDING and row.attempts == 0 for row in rows)
    portal = next(row for row in rows if row.channel == Channel.PORTAL)
    assert portal.recipient == account and portal.language == "zh-hans"
    assert len(callbacks) == 4  # one delivery task per row, scheduled on commit


def test_notify_is_idempotent_per_event_key(minor_with_guardian, django_capture_on_commit_callbacks):
    minor, _, _ = minor_with_guardian
    with django_capture_on_commit_callbacks(execute=True):
        first = notify_safety_concern(user=minor, event_key="crisis:7", level="high_risk")
    with django_capture_on_commit_callbacks(execute=True) as again:
        second = notify_safety_concern(user=minor, event_key="crisis:7", level="high_risk")
    assert [row.pk for row in second] == [row.pk for row in first]
    assert again == [] and Notification.objects.count() == 3


def test_notify_rejects_unknown_levels_and_reasons(minor_with_guardian):
    minor, _, _ = minor_with_guardian
    with pytest.raises(ValueError):
        notify_safety_concern(user=minor, event_key="x", level="none")
    with pytest.raises(ValueError):
        notify_safety_concern(user=minor, event_key="x", level="crisis", reason="bored")
    with pytest.raises(ValueError):
        notify_safety_concern(user=minor, event_key="", level="crisis")


def test_nothing_is_sent_if_the_callers_transaction_rolls_back(minor_with_guardian, smtp_sink, sms_gateway,
                                                               django_capture_on_commit_callbacks):
    minor, _, _ = minor_with_guardian

    class Abort(Exception):
        pass

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Abort), transaction.atomic():
        notify_safety_concern(user=minor, event_key="crisis:rollback", level="crisis")
        raise Abort
    assert Notification.objects.count() == 0
    assert smtp_sink.messages == [] and sms_gateway.requests == []


def test_delivery_after_commit_reaches_smtp_sms_and_portal(minor_with_guardian, smtp_sink, sms_gateway,
                                                           django_capture_on_commit_callbacks):
    minor, guardian, account = minor_with_guardian
    with django_capture_on_commit_callbacks(execute=True):
        notify_safety_concern(user=minor, event_key="crisis:42", level="crisis")
    [mail] = smtp_sink.wait_for(1)
    assert mail.rcpt_tos == ("mum@example.net",)
    assert mail.message["Subject"] == "[Haven] Safety concern for Xiaoming"
    assert "Xiaoming" in mail.text and "Haven" in mail.text
    assert "120" in mail.text and "110" in mail.text and "12356" in mail.text
    email_row = Notification.objects.get(channel=Channel.EMAIL)
    assert mail.message_id == email_row.message_id
    [sms] = sms_gateway.wait_for(1).values()
    assert sms["json"] == {"to": "+8613800138000", "text": Notification.objects.get(channel=Channel.SMS).body,
                           "id": f"notification-{Notification.objects.get(channel=Channel.SMS).pk}"}
    assert sms["auth"] == "Bearer sms-test-token" and sms["idempotency_key"] == sms["json"]["id"]
    assert "Xiaoming" in sms["json"]["text"] and "12356" in sms["json"]["text"]
    assert set(Notification.objects.values_list("status", flat=True)) == {Status.SENT}
    assert all(row.sent_at and row.attempts == 1 for row in Notification.objects.all())
    portal = Notification.objects.get(channel=Channel.PORTAL, recipient=account)
    assert "Xiaoming" in portal.body and "12356" in portal.body  # in the guardian account's language


def test_no_chat_content_leaves_the_service(minor_with_guardian, smtp_sink, sms_gateway,
                                            django_capture_on_commit_callbacks):  # CN-CRI-07
    minor, _, _ = minor_with_guardian
    character = Character.objects.create(slug="friend", role="friend", name_zh="小友", name_en="Friend",
                                         tagline_zh="-", tagline_en="-", persona_zh="-", persona_en="-",
                                         avatar="img/friend.png")
    conversation = Conversation.objects.create(user=minor, character=character)
    Message.objects.create(conversation=conversation, author=Author.USER, text=CHAT_TEXT)
    with django_capture_on_commit_callbacks(execute=True):
        notify_safety_concern(user=minor, event_key=f"crisis:{conversation.pk}", level="crisis")
    mail = smtp_sink.wait_for(1)[0]
    texts = [mail.text, mail.message["Subject"], *(r["json"]["text"] for r in sms_gateway.wait_for(1).values()),
             *Notification.objects.values_list("body", flat=True)]
    for text in texts:
        assert "goodbye letter" not in text and "Nanpu" not in text and CHAT_TEXT not in text
        assert "friend" not in text.lower() and "小友" not in text  # not even which character


def test_text_follows_the_contacts_language_and_region(smtp_sink, sms_gateway, django_capture_on_commit_callbacks):
    elder = make_user(72, username="laowang", region="CN")
    make_contact(elder, name="王小明", email="son@example.net", phone="", language="zh-hans")
    us_teen = make_user(16, username="casey", region="US-CA")
    make_contact(us_teen, ContactKind.GUARDIAN, email="parent@example.com", phone="", language="en")
    with django_capture_on_commit_callbacks(execute=True):
        notify_safety_concern(user=elder, event_key="crisis:elder", level="high_risk")
        notify_safety_concern(user=us_teen, event_key="crisis:ca", level="crisis")
    by_rcpt = {mail.rcpt_tos[0]: mail for mail in smtp_sink.wait_for(2)}
    chinese = by_rcpt["son@example.net"].text
    assert "laowang" in chinese and "12356" in chinese
    english = by_rcpt["parent@example.com"].text
    assert "988" in english and "911" in english and "12356" not in english


def test_unclaimed_reason_asks_contacts_to_act_now(minor_with_guardian, smtp_sink,
                                                   django_capture_on_commit_callbacks):  # CN-CRI-08
    minor, _, _ = minor_with_guardian
    with django_capture_on_commit_callbacks(execute=True):
        notify_safety_concern(user=minor, event_key="crisis:9:unclaimed", level="crisis", reason="unclaimed")
    mail = smtp_sink.wait_for(1)[0]
    assert mail.message["Subject"] == "[Haven] Urgent: please contact Xiaoming now"
    assert "Please act now: call Xiaoming" in mail.text


def test_sms_gateway_errors_are_retried_until_it_accepts(minor_with_guardian, sms_gateway,
                                                         django_capture_on_commit_callbacks):
    minor, _, _ = minor_with_guardian
    sms_gateway.fail_next = 3
    with django_capture_on_commit_callbacks(execute=True):
        notify_safety_concern(user=minor, event_key="crisis:retry", level="crisis")
    row = Notification.objects.get(channel=Channel.SMS)
    assert row.status == Status.SENT and row.attempts == 4
    keys = [request["idempotency_key"] for request in sms_gateway.requests]
    assert keys == [f"notification-{row.pk}"] * 4 and len(sms_gateway.delivered) == 1


def test_smtp_temporary_failures_are_retried(minor_with_guardian, smtp_sink, django_capture_on_commit_callbacks):
    minor, _, _ = minor_with_guardian
    smtp_sink.refuse_next = 2
    with django_capture_on_commit_callbacks(execute=True):
        notify_safety_concern(user=minor, event_key="crisis:451", level="crisis")
    row = Notification.objects.get(channel=Channel.EMAIL)
    assert row.status == Status.SENT and row.attempts == 3
    assert len(smtp_sink.messages) == 1


def test_delivery_gives_up_after_five_retries(minor_with_guardian, sms_gateway, django_capture_on_commit_callbacks):
    minor, _, _ = minor_with_guardian
    sms_gateway.fail_next = 100
    with django_capture_on_commit_callbacks(execute=True):
        notify_safety_concern(user=minor, event_key="crisis:down", level="crisis")
    row = Notification.objects.get(channel=Channel.SMS)
    assert row.status == Status.FAILED and row.attempts == 6 and "HTTP 500" in row.last_error
    assert len(sms_gateway.requests) == 6


def test_unreachable_mail_server_is_a_retried_failure(minor_with_guardian, settings,
                                                      django_capture_on_commit_callbacks):
    from tests.fakes.smtp_sink import free_port

    minor, _, _ = minor_with_guardian
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 1
    with django_capture_on_commit_callbacks(execute=True):
        notify_safety_concern(user=minor, event_key="crisis:nomail", level="crisis")
    row = Notification.objects.get(channel=Channel.EMAIL)
    assert row.status == Status.FAILED and row.attempts == 6 and "ConnectionRefusedError" in row.last_error


def _queued(minor) -> Notification:
    """Rows for the guardian, queued but not yet delivered (their on-commit tasks discarded)."""
    notify_safety_concern(user=minor, event_key="crisis:lease", level="crisis")
    return Notification.objects.get(channel=Channel.EMAIL)


def test_a_sent_notification_is_never_sent_again(minor_with_guardian, smtp_sink):
    minor, _, _ = minor_with_guardian
    row = _queued(minor)
    assert deliver_notification.delay(row.pk).get() == "sent"
    assert deliver_notification.delay(row.pk).get() == "skipped"  # a redelivered task
    assert len(smtp_sink.wait_for(1)) == 1
    row.refresh_from_db()
    assert row.attempts == 1


def test_a_copy_waits_while_another_attempt_holds_the_lease(minor_with_guardian, smtp_sink):
    minor, _, _ = minor_with_guardian
    row = _queued(minor)
    services.claim_notification(notification_id=row.pk)  # a live attempt elsewhere
    with pytest.raises(services.DeliveryDeferred):
        services.send_notification(notification_id=row.pk)
    assert smtp_sink.messages == []
    row.refresh_from_db()
    assert row.status == Status.SENDING and row.attempts == 1


def test_a_row_left_sending_by_a_lost_worker_is_resent_once_the_lease_expires(minor_with_guardian, smtp_sink,
                                                                              settings):
    minor, _, _ = minor_with_guardian
    row = _queued(minor)
    services.claim_notification(notification_id=row.pk)  # the worker died after this commit
    later = timezone.now() + dt.timedelta(seconds=settings.GUARDIANS_DELIVERY_LEASE_SECONDS + 1)
    with time_machine.travel(later, tick=True):
        assert services.send_notification(notification_id=row.pk) is True
    [mail] = smtp_sink.wait_for(1)
    row.refresh_from_db()
    assert row.status == Status.SENT and row.attempts == 2 and mail.message_id == row.message_id


def test_message_id_is_stable_per_notification(minor_with_guardian):
    minor, _, _ = minor_with_guardian
    row = _queued(minor)
    again = Notification.objects.get(pk=row.pk)
    assert row.message_id == again.message_id
    assert row.message_id.startswith(f"<safety-{row.pk}-") and row.message_id.endswith("@example.com>")
    other = Notification.objects.get(channel=Channel.SMS)
    assert other.message_id != row.message_id


def test_console_sms_backend_logs_the_text(minor_with_guardian, caplog, django_capture_on_commit_callbacks):
    minor, _, _ = minor_with_guardian
    with caplog.at_level("INFO", logger="guardians.sms"), django_capture_on_commit_callbacks(execute=True):
        notify_safety_concern(user=minor, event_key="crisis:console", level="distress")
    assert "+8613800138000" in caplog.text and "Xiaoming" in caplog.text
    assert Notification.objects.get(channel=Channel.SMS).status == Status.SENT


def test_smtp_refusal_of_the_recipient_is_recorded(minor_with_guardian, smtp_sink, django_capture_on_commit_callbacks):
    """Every SMTP error is retried (a 4xx/5xx can't be told apart reliably before the cap) and logged."""
    minor, _, _ = minor_with_guardian
    smtp_sink.refuse_next = 100
    with django_capture_on_commit_callbacks(execute=True):
        notify_safety_concern(user=minor, event_key="crisis:refused", level="crisis")
    row = Notification.objects.get(channel=Channel.EMAIL)
    assert row.status == Status.FAILED and smtplib.SMTPDataError.__name__ in row.last_error
