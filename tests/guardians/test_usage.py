"""CN-MIN-08: the guardian's usage summary of a minor ward (portal page with charts, weekly email), BX-14:
never what the minor wrote, and CN-MIN-14: the guardian deletes the ward's chat history."""
import datetime as dt
import re

import pytest
import time_machine
from channels.db import database_sync_to_async
from django.conf import settings
from django.core import mail

from accounts.models import AuditEvent, User
from companion.models import (Author, Character, Conversation, CrisisCase, DailyUsage, LedgerEntry, Message, Reminder,
                              ReminderKind, Wallet)
from guardians import usage
from guardians.models import Contact, ContactKind, Notification
from guardians.tasks import send_weekly_summaries
from tests.companion.test_privacy import CANARY, canary_places
from tests.fixtures import client_for, frames_until, join
from tests.guardians.conftest import make_contact, make_guardian_account, make_user

BEIJING = usage.BEIJING
# A Wednesday, noon in Beijing: the last 7 days are Thu 19 Nov .. Wed 25 Nov, the last complete week
# Mon 16 .. Sun 22 Nov, the 4 weeks start on Mon 2 Nov.
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=BEIJING)
TODAY = NOW.date()
MARKER = "zebra-quartz-7741"
FRIEND, MENTOR = "Sunny", "Mentor Lin"  # seed_demo's English names


# --- pure date maths and chart geometry (no database) -----------------------------------------------

def test_last_days_and_weeks_run_oldest_first_and_end_today():
    assert usage.last_days(TODAY, 3) == (dt.date(2026, 11, 23), dt.date(2026, 11, 24), TODAY)
    assert usage.week_start(TODAY) == dt.date(2026, 11, 23)
    assert usage.week_start(dt.date(2026, 11, 23)) == dt.date(2026, 11, 23)
    assert usage.last_weeks(TODAY, 4) == (dt.date(2026, 11, 2), dt.date(2026, 11, 9), dt.date(2026, 11, 16),
                                          dt.date(2026, 11, 23))


@pytest.mark.parametrize("today", [dt.date(2026, 11, 23), TODAY, dt.date(2026, 11, 29)])
def test_the_weekly_email_covers_the_last_complete_monday_to_sunday(today):
    assert usage.previous_week(today) == (dt.date(2026, 11, 16), dt.date(2026, 11, 22))


def test_day_bounds_are_beijing_midnights():
    start, end = usage.day_bounds(dt.date(2026, 11, 16), dt.date(2026, 11, 22))
    assert start == dt.datetime(2026, 11, 15, 16, 0, tzinfo=dt.timezone.utc)
    assert end == dt.datetime(2026, 11, 22, 16, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(("seconds", "minutes"), [(0, 0), (29.9, 0), (30, 1), (89, 1), (90, 2), (3600, 60)])
def test_whole_minutes_round_half_a_minute_up(seconds, minutes):
    assert usage.whole_minutes(seconds) == minutes


def test_bars_scale_to_the_largest_value_and_never_hide_a_short_use():
    assert usage.bar_lengths([0, 60, 30, 0.1], longest=300) == [0, 300, 150, 1]
    assert usage.bar_lengths([0, 0]) == [0, 0] and usage.bar_lengths([]) == []
    chart = usage.bar_chart([("Mon", 10), ("Tue", 0), ("Wed", 20)])
    assert [(bar["label"], bar["value"], bar["length"]) for bar in chart["bars"]] == [
        ("Mon", 10, 150), ("Tue", 0, 0), ("Wed", 20, 300)]
    assert [bar["y"] for bar in chart["bars"]] == [4, 28, 52] and chart["height"] == 80
    assert chart["bars"][2]["value_x"] == chart["left"] + 300 + 6


# --- the usage page ----------------------------------------------------------------------------------

def at(moment: dt.datetime):
    return time_machine.travel(moment, tick=False)


def ward_and_guardian(age: int = 13, *, language: str = "en", **fields) -> tuple[User, User, Contact]:
    """A minor with a linked, consenting guardian account (tests.fixtures.give_contacts)."""
    child = make_user(age, contacts=True, language=language, **fields)
    contact = Contact.objects.get(user=child, kind=ContactKind.GUARDIAN)
    return child, contact.account, contact


def said(child: User, slug: str, moment: dt.datetime, text: str = "hello", risk: str = "none") -> Message:
    conversation, _ = Conversation.objects.get_or_create(user=child, character=Character.objects.get(slug=slug),
                                                         archived_at=None)
    message = Message.objects.create(conversation=conversation, author=Author.USER, text=text, risk_level=risk)
    Message.objects.create(conversation=conversation, author=Author.AI, text=f"reply to {text}", reply_to=message)
    Message.objects.filter(conversation=conversation).filter(pk__gte=message.pk).update(created_at=moment)
    return message


def used(child: User, day: dt.date, seconds: float) -> None:
    DailyUsage.objects.create(user=child, day=day, seconds=seconds)


def day_at(day: dt.date, hour: int = 20) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=BEIJING)


@pytest.fixture
def history(demo):
    """minor13-like ward with three weeks of use: DailyUsage rows (the server's clock), messages to
    two characters, a time-limit pop-up, a distress message and a safety case."""
    with at(NOW):
        child, guardian, contact = ward_and_guardian()
    used(child, dt.date(2026, 11, 3), 1200)  # week of 2 Nov
    used(child, dt.date(2026, 11, 16), 1500)  # last complete week: 1500 + 2130 + 45 s = 61.25 min
    used(child, dt.date(2026, 11, 20), 2130)
    used(child, dt.date(2026, 11, 22), 45)
    used(child, dt.date(2026, 11, 25), 600)  # today
    said(child, "friend", day_at(dt.date(2026, 11, 16)))
    said(child, "friend", day_at(dt.date(2026, 11, 20), 23))  # 23:30 Beijing is still the 20th there
    said(child, "mentor", day_at(dt.date(2026, 11, 20)), risk="distress")
    said(child, "friend", day_at(dt.date(2026, 11, 25), 9))
    said(child, "friend", dt.datetime(2026, 11, 15, 23, 59, tzinfo=BEIJING))  # Sunday: the week before
    reminder = Reminder.objects.create(user=child, kind=ReminderKind.TIME_LIMIT, key="time_limit:2026-11-20",
                                       text="limit")
    Reminder.objects.create(user=child, kind=ReminderKind.DISCLOSURE, key="start:day:2026-11-20", text="AI")
    Reminder.objects.filter(user=child).update(created_at=day_at(dt.date(2026, 11, 20)))
    # CN-MIN-11's ledger: ¥30 and ¥12 bought in the last complete week, the ¥30 refunded; ¥6 the week before.
    wallet = Wallet.objects.create(user=child, balance_fen=1000)
    for key, kind, fen, day in (("p1", "purchase", 3000, 17), ("p2", "purchase", 1200, 20), ("r1", "refund", 3000, 21),
                                ("p0", "purchase", 600, 10)):
        LedgerEntry.objects.create(wallet=wallet, kind=kind, amount_fen=fen, idempotency_key=key,
                                   created_at=day_at(dt.date(2026, 11, day)))
    case = CrisisCase.objects.create(user=child, conversation=Conversation.objects.filter(user=child).first(),
                                     level="high_risk", sla_deadline=NOW, status="resolved")
    CrisisCase.objects.filter(pk=case.pk).update(opened_at=day_at(dt.date(2026, 11, 21)))
    return child, guardian, contact, reminder


def totals(page: str, key: str) -> dict[str, str]:
    section = page.split(f'data-testid="usage-{key}"')[1].split("</section>")[0]
    return dict(re.findall(r'data-testid="(total-[a-z]+)">([^<]*)<', section))


def test_the_usage_page_shows_the_server_usage_records_per_day_and_week(history):
    """CN-MIN-08: minutes from DailyUsage, messages per Beijing day, characters, reminders, risks."""
    child, guardian, contact, _ = history
    with at(NOW):
        page = client_for(guardian).get(f"/guardian/wards/{contact.pk}/usage/").content.decode()
    # Last 7 days (19..25 Nov): 2130 + 45 + 600 s = 46.25 min; messages on the 20th (2) and the 25th.
    days = totals(page, "days")
    assert (days["total-minutes"], days["total-messages"], days["total-reminders"], days["total-risks"],
            days["total-cases"]) == ("46", "3", "1", "1", "1")
    weeks = totals(page, "weeks")  # 2 Nov .. 25 Nov: every row above, the Sunday-night message included
    assert (weeks["total-minutes"], weeks["total-messages"]) == (str(usage.whole_minutes(1200 + 1500 + 2130 + 45 + 600)),
                                                                 "5")
    table = page.split('data-testid="table-weeks"')[1].split("</table>")[0]
    assert re.findall(r'<th scope="row">([0-9-]+)</th>\s*<td data-testid="row-minutes">(\d+)</td><td>(\d+)</td>',
                      table) == [("2026-11-02", "20", "0"), ("2026-11-09", "0", "1"), ("2026-11-16", "61", "3"),
                                 ("2026-11-23", "10", "1")]
    day_table = page.split('data-testid="table-days"')[1].split("</table>")[0]
    assert day_table.count("<tr>") == 8  # the header and 7 days
    assert "2026-11-20" in day_table
    characters = page.split('data-testid="characters-days"')[1].split("</table>")[0]
    assert re.findall(r"<tr><td>([^<]+)</td><td>(\d+)</td></tr>", characters) == [(FRIEND, "2"), (MENTOR, "1")]
    assert 'data-testid="chart-days"' in page and 'role="img"' in page and "<rect" in page
    assert "Time limit: 1" in page and "emotional distress: 1" in page
    assert "hello" not in page and "reply to" not in page and "limit</" not in page  # BX-14


def test_the_usage_page_speaks_chinese(history):
    _, guardian, contact, _ = history
    with at(NOW):
        client = client_for(guardian, "zh-hans")
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
        page = client.get(f"/guardian/wards/{contact.pk}/usage/").content.decode()
    assert 'lang="zh-hans"' in page and "最近 7 天" in page and "聊天时长（分钟）" in page
    assert totals(page, "days")["total-minutes"] == "46"


def test_the_portal_links_each_minor_wards_usage_page(history):
    _, guardian, contact, _ = history
    page = client_for(guardian).get("/guardian/").content.decode()
    assert f'href="/guardian/wards/{contact.pk}/usage/"' in page
    assert f'href="/guardian/wards/{contact.pk}/history/delete/"' in page


def test_only_the_wards_own_guardian_sees_the_usage_page(history):
    child, guardian, contact, _ = history
    url = f"/guardian/wards/{contact.pk}/usage/"
    other_guardian = make_guardian_account()
    assert client_for(other_guardian).get(url).status_code == 404
    assert client_for(child).get(url).status_code == 403  # not a guardian at all
    assert client_for(guardian).get("/guardian/wards/999999/usage/").status_code == 404
    response = client_for().get(url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_ward_who_turned_18_has_no_usage_page(demo):
    adult = make_user(19)
    guardian = make_guardian_account()
    contact = make_contact(adult, ContactKind.GUARDIAN, account=guardian, consent_at=dt.datetime.now(dt.UTC))
    assert client_for(guardian).get(f"/guardian/wards/{contact.pk}/usage/").status_code == 404
    assert client_for(guardian).post(f"/guardian/wards/{contact.pk}/history/delete/",
                                     {"confirm": "on"}).status_code == 404


# --- the weekly email ----------------------------------------------------------------------------------

def figure(body: str, label: str) -> str:
    return re.search(re.escape(label) + r"\s*(\d+)", body).group(1)


def test_weekly_totals_in_the_email_equal_the_server_usage_records_and_the_portal(history, django_capture_on_commit_callbacks):
    """CN-MIN-08 "Weekly totals on the portal equal server usage records": one email per ward, however
    often the task runs."""
    child, guardian, contact, _ = history
    sibling = make_user(15, language="en")
    sibling_contact = make_contact(sibling, ContactKind.GUARDIAN, account=guardian, language="zh-hans",
                                   consent_at=dt.datetime.now(dt.UTC), email="guardian-2@example.net")
    used(sibling, dt.date(2026, 11, 18), 300)
    withdrawn_child, _, withdrawn = ward_and_guardian(14)
    Contact.objects.filter(pk=withdrawn.pk).update(consent_revoked_at=dt.datetime.now(dt.UTC))
    used(withdrawn_child, dt.date(2026, 11, 18), 300)
    with at(NOW):
        with django_capture_on_commit_callbacks(execute=True):
            queued = send_weekly_summaries.delay().get()
        with django_capture_on_commit_callbacks(execute=True):
            assert send_weekly_summaries.delay().get() == 0  # the rerun sends nothing
        page = client_for(guardian).get(f"/guardian/wards/{contact.pk}/usage/").content.decode()

    # One email per consenting guardian and minor ward (the demo guardian's three wards included).
    assert len(mail.outbox) == queued == Notification.objects.filter(event_key__startswith="summary:").count() == 5
    addresses = [message.to[0] for message in mail.outbox]
    assert addresses.count(contact.email) == 1 and addresses.count("guardian-2@example.net") == 1
    assert withdrawn.email not in addresses
    english = next(message for message in mail.outbox if message.to == [contact.email])
    week = DailyUsage.objects.filter(user=child, day__range=(dt.date(2026, 11, 16), dt.date(2026, 11, 22)))
    expected = usage.whole_minutes(sum(row.seconds for row in week))
    assert expected == 61
    assert figure(english.body, "Chat time (minutes):") == str(expected)
    week_row = page.split('data-testid="table-weeks"')[1].split("2026-11-16</th>")[1]
    assert re.match(r'\s*<td data-testid="row-minutes">(\d+)<', week_row).group(1) == str(expected)
    assert figure(english.body, "Messages sent:") == "3" and figure(english.body, "Days with chat:") == "3"
    assert f"{FRIEND} (2), {MENTOR} (1)" in english.body
    assert figure(english.body, "Safety cases opened:") == "1"
    assert "Spent (purchases less refunds): ¥12" in english.body  # purchases less refunds, that week only
    assert totals(page, "weeks")["total-spent"] == "¥18"  # the last 4 weeks: ¥6 + ¥12
    assert f"{settings.COMPANION_SITE_URL.rstrip('/')}/guardian/wards/{contact.pk}/usage/" in english.body
    assert "2026-11-16" in english.subject and "2026-11-22" in english.subject
    chinese = next(message for message in mail.outbox if message.to == ["guardian-2@example.net"])
    assert "每周" in chinese.subject or "周报" in chinese.subject
    assert "聊天时长（分钟）：5" in chinese.body
    rows = Notification.objects.filter(event_key__startswith="summary:")
    assert set(rows.values_list("status", flat=True)) == {"sent"}
    assert not rows.filter(contact=withdrawn).exists() and sibling_contact.pk in rows.values_list("contact", flat=True)


# --- BX-14: nothing the minor wrote, anywhere a guardian looks ------------------------------------------

@pytest.mark.django_db(transaction=True)
async def test_no_guardian_page_or_email_holds_what_the_minor_wrote(demo, settings):
    """BX-14: the minor chats (over the real socket) with a unique marker; the guardian's portal, usage
    page, alerts, delete page and the weekly email count the messages but never show the marker."""
    settings.COMPANION_MINOR_CURFEW = ""  # the minor may chat at any hour of the test run
    child, guardian, contact = await database_sync_to_async(ward_and_guardian)(13)
    chat, _, _ = await join(child, "friend")
    await chat.send_json_to({"type": "message", "text": f"I'm so sad and lonely today {MARKER}", "client_id": "m1"})
    await frames_until(chat, "message_end", timeout=10)
    await chat.disconnect()

    def look() -> list[str]:
        sent = Message.objects.filter(conversation__user=child, author=Author.USER)
        assert sent.count() == 1 and MARKER in sent.get().text
        client = client_for(guardian)
        pages = [client.get(url).content.decode() for url in (
            "/guardian/", f"/guardian/wards/{contact.pk}/usage/", "/guardian/alerts/",
            f"/guardian/wards/{contact.pk}/history/delete/")]
        assert totals(pages[1], "days")["total-messages"] == "1"
        with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=7)):
            assert usage.queue_weekly_summary(contact_id=contact.pk, today=usage.week_start(
                dt.datetime.now(BEIJING).date())) is not None
        stored = [f"{row.subject}\n{row.body}" for row in Notification.objects.filter(user=child)]
        return pages + stored + [f"{message.subject}\n{message.body}" for message in mail.outbox]

    texts = await database_sync_to_async(look)()
    assert any("Messages sent: 1" in text for text in texts)  # the email counted the message
    assert not [text for text in texts if MARKER in text]


# --- CN-MIN-14: the guardian deletes the chat history ----------------------------------------------------

def test_the_guardian_deletes_the_minors_chat_history_after_confirming(history):
    """CN-MIN-14 "After it, every store has 0 rows of the minor's chat content": the privacy centre's
    canary search (every text column, decrypted chat, copies, cache) finds nothing afterwards."""
    child, guardian, contact, _ = history
    said(child, "mentor", NOW, text=f"remember {CANARY} for me")
    client = client_for(guardian)
    url = f"/guardian/wards/{contact.pk}/history/delete/"
    page = client.get(url).content.decode()
    assert 'name="confirm"' in page and "csrfmiddlewaretoken" in page
    assert Message.objects.filter(conversation__user=child).count() == 12
    assert canary_places() != []

    unconfirmed = client.post(url, {})
    assert unconfirmed.status_code == 200 and "Tick the box to confirm the deletion." in unconfirmed.content.decode()
    assert Message.objects.filter(conversation__user=child).count() == 12

    response = client.post(url, {"confirm": "on"})
    assert response.status_code == 302 and response["Location"] == f"/guardian/#ward-{contact.pk}"
    assert Message.objects.filter(conversation__user=child).count() == 0
    assert not Conversation.objects.filter(user=child).exists()
    assert canary_places() == []
    assert DailyUsage.objects.filter(user=child).count() == 5  # chat time is not chat content
    assert "Deleted 2 conversations of" in client.get("/guardian/").content.decode()
    event = AuditEvent.objects.get(action="guardian.history_deleted")
    assert (event.actor_id, event.subject_id, event.data) == (
        guardian.pk, str(contact.pk), {"user": child.pk, "conversations": 2})
    assert AuditEvent.objects.filter(action="data.conversations_deleted", subject_id=str(child.pk)).exists()


def test_nothing_is_deleted_while_a_safety_case_is_open_and_the_guardian_is_told_why(history):
    child, guardian, contact, _ = history
    CrisisCase.objects.filter(user=child).update(status="waiting")
    response = client_for(guardian).post(f"/guardian/wards/{contact.pk}/history/delete/", {"confirm": "on"})
    assert response.status_code == 200
    assert "Our safety team is still looking after" in response.content.decode()
    assert Message.objects.filter(conversation__user=child).count() == 10
    assert not AuditEvent.objects.filter(action="guardian.history_deleted").exists()


def test_nobody_else_can_delete_the_history(history):
    child, guardian, contact, _ = history
    url = f"/guardian/wards/{contact.pk}/history/delete/"
    assert client_for(make_guardian_account()).post(url, {"confirm": "on"}).status_code == 404
    assert client_for(child).post(url, {"confirm": "on"}).status_code == 403
    assert client_for().post(url, {"confirm": "on"}).status_code == 302  # to the sign-in page
    assert client_for(guardian).put(url).status_code == 405
    assert Message.objects.filter(conversation__user=child).count() == 10


def test_history_deletion_is_off_under_the_final_text(history, settings):
    """CN-MIN-14 is DRAFT-ONLY: with CN_REGIME=final the button is gone and the page answers 404."""
    assert usage.history_deletion_offered("union") and usage.history_deletion_offered("draft")
    assert not usage.history_deletion_offered("final")
    child, guardian, contact, _ = history
    settings.CN_REGIME = "final"
    client = client_for(guardian)
    url = f"/guardian/wards/{contact.pk}/history/delete/"
    assert url not in client.get("/guardian/").content.decode()
    assert url not in client.get(f"/guardian/wards/{contact.pk}/usage/").content.decode()
    assert client.post(url, {"confirm": "on"}).status_code == 404
    assert Message.objects.filter(conversation__user=child).count() == 10
