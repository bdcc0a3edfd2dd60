"""Protections for users aged 60+ (CN-REG-05, CN-ELD-03, CN-ELD-04, CN-ELD-05), through the real
pages, the chat socket and the database, with the demo accounts (`elder` is 72, `adult` 30)."""
import datetime as dt

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, User
from companion import complaints
from companion.elderly import TIPS, daily_tip, scam_terms_in, tip_due, tip_index, wants_large_text
from companion.models import Complaint, ComplaintKind
from companion.policies import may_open_character
from companion.tasks import flag_overdue_complaints
from tests.fixtures import UserFactory, client_for, frames_until, join, open_socket, staff

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_cache():
    """The once-per-N-minutes claim of the warning card lives in the cache, which outlives a test."""
    cache.clear()


def elder() -> User:
    return User.objects.get(username="elder")


def adult() -> User:
    return User.objects.get(username="adult")


def elder_client(language: str = "en"):
    """Signed-in pages follow the account's language (zh-hans for `elder`) unless the person picked one."""
    client = client_for(elder(), language)
    client.cookies["django_language"] = language
    return client


# --- pure parts ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("Investment", ("investment",)),
    ("我想投资理财", ("投资", "理财")),
    ("a caller says I must move my savings now", ("a caller says", "savings")),
    ("Can you WIRE 5000 to my grandson?", ("wire",)),
    ("朋友推荐的保 健 品", ("保健品",)),
    ("孫子出事了，急需用錢", ("孙子出事", "急需用钱")),  # traditional characters are folded
])
def test_money_investments_health_products_and_relatives_in_trouble_are_recognised(text, expected):
    """CN-ELD-04: zh and en terms, normalised as the screening pipeline normalises."""
    assert scam_terms_in(text) == expected


@pytest.mark.parametrize("text", ["My new wireless radio works", "I invested time in my garden? no: gardening",
                                  "今天天气很好", "Tell me a story about a cat"])
def test_everyday_talk_is_not_a_warning(text):
    assert scam_terms_in(text) == ()


def test_large_text_is_on_by_default_for_60_plus_and_the_choice_wins():
    """CN-REG-05: offered and on by default for 60+, who can switch it off."""
    assert wants_large_text(age_band="elderly", choice=None)
    assert not wants_large_text(age_band="elderly", choice="off")
    assert not wants_large_text(age_band="adult", choice=None)
    assert wants_large_text(age_band="adult", choice="on")


def test_the_tip_rotates_daily_and_stays_away_once_put_away_for_the_day():
    today = dt.date(2026, 11, 28)
    tomorrow = today + dt.timedelta(days=1)
    assert tip_index(tomorrow, len(TIPS)) == (tip_index(today, len(TIPS)) + 1) % len(TIPS)
    assert daily_tip(today) != daily_tip(tomorrow)
    assert tip_due(age_band="elderly", seen_on="", day=today)
    assert not tip_due(age_band="elderly", seen_on=today.isoformat(), day=today)
    assert tip_due(age_band="elderly", seen_on=today.isoformat(), day=tomorrow)
    assert not tip_due(age_band="adult", seen_on="", day=today)


def test_virtual_relatives_are_closed_to_60_plus():
    """CN-ELD-03."""
    assert not may_open_character(user_is_minor=False, character_is_adult_only=True, character_is_active=True,
                                  user_is_elderly=True, character_is_relative=True)
    assert may_open_character(user_is_minor=False, character_is_adult_only=True, character_is_active=True,
                              user_is_elderly=True, character_is_relative=False)
    assert may_open_character(user_is_minor=False, character_is_adult_only=True, character_is_active=True,
                              user_is_elderly=False, character_is_relative=True)


# --- CN-REG-05: the larger-text theme and the tip of the day --------------------------------------

@pytest.mark.parametrize("language, button, tip_title", [("en", "Talk to a person", "Today's safety tip"),
                                                         ("zh-hans", "联系真人", "今日安全提示")])
def test_an_elder_gets_larger_text_a_help_button_and_the_tip_on_every_page(demo, language, button, tip_title):
    client = elder_client(language)
    home = client.get("/").content.decode()
    assert 'class=" large-text"' in home and "css/elderly.css" in home
    assert 'data-testid="talk-to-person"' in home and button in home
    assert 'data-testid="daily-tip"' in home and tip_title in home
    privacy = client.get(reverse("privacy")).content.decode()
    assert 'data-testid="talk-to-person"' in privacy and "large-text" in privacy  # every page

    # Switching the larger text off is remembered; the button stays.
    response = client.post(reverse("large_text"), {"large_text": "off", "next": "/privacy/"})
    assert response.status_code == 302 and response["Location"] == "/privacy/"
    home = client.get("/").content.decode()
    assert "large-text\"" not in home.split("<body", 1)[1].split(">", 1)[0]
    assert 'data-testid="large-text-on"' in home and 'data-testid="talk-to-person"' in home

    # The tip goes away for today once put away, and comes back tomorrow.
    client.post(reverse("dismiss_tip"), {"next": "/"})
    assert 'data-testid="daily-tip"' not in client.get("/").content.decode()
    with time_machine.travel(timezone.now() + dt.timedelta(days=1)):
        assert 'data-testid="daily-tip"' in client.get("/").content.decode()


def test_someone_turning_60_today_gets_the_help_button_and_larger_text(demo):
    """CN-REG-05's acceptance check: the band follows the birth date day by day (the nightly job only
    records the change), so a user turning 60 today has the help button and the larger text."""
    today = timezone.localdate()
    sixty = UserFactory(birth_date=today.replace(year=today.year - 60))
    fifty_nine = UserFactory(birth_date=today.replace(year=today.year - 60) + dt.timedelta(days=1))
    page = client_for(sixty).get("/").content.decode()
    assert 'data-testid="talk-to-person"' in page and 'class=" large-text"' in page
    assert client_for(sixty).get(reverse("help_request")).status_code == 200
    page = client_for(fifty_nine).get("/").content.decode()
    assert 'data-testid="talk-to-person"' not in page and "large-text" not in page


def test_other_adults_see_none_of_it_and_the_switch_only_takes_on_or_off(demo):
    client = client_for(adult())
    home = client.get("/").content.decode()
    assert "large-text" not in home and 'data-testid="talk-to-person"' not in home
    assert 'data-testid="daily-tip"' not in home
    assert client.get(reverse("large_text")).status_code == 405  # changes need POST
    client.post(reverse("large_text"), {"large_text": "<script>", "next": "https://evil.example/"})
    assert "haven_large_text" not in client.cookies
    response = client.post(reverse("large_text"), {"large_text": "on", "next": "https://evil.example/"})
    assert response["Location"] == "/"  # never an open redirect
    assert 'class=" large-text"' in client.get("/").content.decode()  # anyone may choose the larger text


# --- CN-ELD-03: no virtual relatives for 60+ -------------------------------------------------------

async def test_virtual_relatives_are_hidden_refused_and_their_socket_closed_for_an_elder(demo):
    from channels.db import database_sync_to_async

    def pages():
        elder_client, adult_client = client_for(elder()), client_for(adult())
        return (elder_client.get("/").content.decode(), elder_client.get("/chat/family/").status_code,
                adult_client.get("/").content.decode(), adult_client.get("/chat/family/").status_code)

    elder_home, elder_chat, adult_home, adult_chat = await database_sync_to_async(pages)()
    assert 'data-slug="family"' not in elder_home and 'data-slug="friend"' in elder_home
    assert elder_chat == 404  # like a minor's refusal: missing and forbidden look the same
    assert 'data-slug="family"' in adult_home and adult_chat == 200
    user = await database_sync_to_async(elder)()
    socket, connected, _ = await open_socket(user, "family")
    assert connected
    assert await socket.receive_json_from() == {"type": "closed", "reason": "blocked"}
    assert (await socket.receive_output())["code"] == 4403
    await socket.disconnect()


# --- CN-ELD-04: the warning card -------------------------------------------------------------------

async def say(socket, text: str, client_id: str) -> list[dict]:
    await socket.send_json_to({"type": "message", "text": text, "client_id": client_id})
    return await frames_until(socket, "message_end", timeout=10)


async def no_card_after(socket, text: str, client_id: str) -> list[dict]:
    """Send a message, then a frame the server refuses at once: any card for the message comes before
    that `error` (the socket handles frames in order), so reading up to it shows whether one came."""
    await socket.send_json_to({"type": "message", "text": text, "client_id": client_id})
    await socket.send_json_to({"type": "no-such-frame"})
    return [frame for frame in await frames_until(socket, "error", timeout=10) if frame.get("kind") == "scam_warning"]


async def elder_speaking(language: str) -> User:
    from channels.db import database_sync_to_async

    user = await database_sync_to_async(elder)()
    user.language = language
    await database_sync_to_async(user.save)()
    return user


async def test_investment_from_elder_shows_the_warning_card_before_the_reply_and_not_again_at_once(demo):
    """The catalog's acceptance check ("Investment" from `elder`): the card comes before the reply;
    the AI still answers; within 30 minutes the card does not come back in this conversation."""
    socket, _, _ = await join(await elder_speaking("en"))
    frames = await say(socket, "Investment", "m1")
    kinds = [(frame["type"], frame.get("kind")) for frame in frames]
    warning = next(frame for frame in frames if frame.get("kind") == "scam_warning")
    assert kinds.index(("notice", "scam_warning")) < kinds.index(("message_start", None))
    assert warning["title"] == "Be careful: this may be a scam"
    assert warning["hotline"] == {"name": "Anti-fraud hotline", "contact": "96110"}
    assert warning["link"]["url"] == "/safety/"
    assert any(frame["type"] == "message_delta" for frame in frames)  # a warning, not a block
    assert await no_card_after(socket, "Should I buy that health supplement?", "m2") == []
    await socket.disconnect()


async def test_the_card_comes_back_after_30_minutes_and_in_chinese(demo):
    """我想投资理财 also screens as a property-loss risk: the card comes first, then the crisis path
    (CN-ELD-02) as before; after COMPANION_SCAM_WARNING_MINUTES the card may show again."""
    socket, _, _ = await join(await elder_speaking("zh-hans"))
    await socket.send_json_to({"type": "message", "text": "我想投资理财", "client_id": "z1"})
    frames = await frames_until(socket, "notice", timeout=10)
    assert frames[-1]["kind"] == "scam_warning" and frames[-1]["title"] == "请注意：这可能是诈骗"
    assert frames[-1]["hotline"]["contact"] == "96110"
    assert (await frames_until(socket, "crisis", timeout=10))[-1]["level"] == "high_risk"
    assert await no_card_after(socket, "有人让我买保健品", "z2") == []
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=31)):
        assert len(await no_card_after(socket, "有人让我买保健品", "z3")) == 1
    await socket.disconnect()


async def test_the_savings_probe_shows_the_card_and_other_adults_never_get_it(demo, settings):
    from channels.db import database_sync_to_async

    socket, _, _ = await join(await database_sync_to_async(elder)())
    await socket.send_json_to({"type": "message", "text": "a caller says I must move my savings now", "client_id": "p1"})
    frames = await frames_until(socket, "notice", timeout=10)  # it may also open a safety case (CN-ELD-02)
    assert frames[-1]["kind"] == "scam_warning" and frames[-1]["hotline"]["contact"] == "96110"
    await socket.disconnect()

    socket, _, _ = await join(await database_sync_to_async(adult)())
    frames = await say(socket, "Investment", "a1")
    assert not any(frame.get("kind") == "scam_warning" for frame in frames)
    assert any(frame["type"] == "message_delta" for frame in frames)
    await socket.disconnect()


async def test_the_savings_probe_tells_the_emergency_contact_and_shows_the_anti_scam_help(demo, mailoutbox):
    """CN-ELD-02's acceptance check: `elder` writing "a caller says I must move my savings now" opens a
    property-loss case (high risk), the emergency contact is told (without the words) and the chat
    shows the anti-scam reply with 96110 and 110, besides the warning card."""
    from channels.db import database_sync_to_async

    from companion.models import CrisisCase
    from guardians.models import Contact

    person = await database_sync_to_async(elder)()
    contact_email = await database_sync_to_async(
        lambda: Contact.objects.get(user=person, kind="emergency", active=True).email)()
    socket, _, _ = await join(person)
    await socket.send_json_to({"type": "message", "text": "a caller says I must move my savings now", "client_id": "s1"})
    frames = await frames_until(socket, "message_end", timeout=10)
    crisis = next(f for f in frames if f["type"] == "crisis")
    assert "96110" in str(crisis) and "110" in str(crisis)  # tap-to-call anti-fraud and police lines
    shown = "".join(f["text"] for f in frames if f["type"] == "message_delta")
    assert "安全账户" in shown  # the anti-scam template (elder reads Chinese): stop transfers, no "safe account"
    case = await database_sync_to_async(lambda: CrisisCase.objects.get(user=person))()
    assert case.contacts_notified >= 1
    told = [mail for mail in mailoutbox if contact_email in mail.to]
    assert told and all("savings" not in mail.body for mail in told)
    await socket.disconnect()


# --- CN-ELD-05: talk to a person -------------------------------------------------------------------

@pytest.fixture
def officer(demo):
    return staff("compliance", username="officer1", email="officer1@example.com")


def test_talk_to_a_person_creates_a_ticket_flagged_after_10_minutes_unanswered(officer, mailoutbox):
    client = elder_client()
    page = client.get(reverse("help_request"))
    assert page.status_code == 200 and "within 10 minutes" in page.content.decode()
    response = client.post(reverse("help_request"), {"topic": "fraud", "text": "Someone called about my bank."})
    ticket = Complaint.objects.get(kind=ComplaintKind.HELP)
    assert response.status_code == 302 and response["Location"] == reverse("complaint_status", args=[ticket.public_id])
    assert ticket.user == elder() and ticket.safety_related
    assert ticket.due_at == ticket.created_at + dt.timedelta(minutes=10)
    assert AuditEvent.objects.filter(action="complaint.filed", subject_id=str(ticket.public_id),
                                     data__kind="help").exists()
    status = client.get(response["Location"]).content.decode()
    assert "Thank you. A person from our team will reply here by" in status and "No reply yet" in status
    assert any("officer1@example.com" in mail.to and ticket.reference in mail.subject for mail in mailoutbox)

    staff_page = client_for(officer).get(reverse("complaint_staff_list"), {"kind": "help"}).content.decode()
    assert ticket.reference in staff_page and "Help request" in staff_page
    with time_machine.travel(ticket.created_at + dt.timedelta(minutes=9)):
        assert flag_overdue_complaints.delay().get() == 0
    with time_machine.travel(ticket.created_at + dt.timedelta(minutes=11)):
        assert flag_overdue_complaints.delay().get() == 1
        queue = client_for(officer).get(reverse("complaint_staff_list"), {"overdue": "on"}).content.decode()
    assert ticket.reference in queue and 'data-overdue="reply"' in queue
    assert "nobody replied to help request" in mailoutbox[-1].subject or "无人回复" in mailoutbox[-1].subject
    assert AuditEvent.objects.filter(action="complaint.overdue", subject_id=str(ticket.public_id),
                                     data__reason="reply").exists()


def test_the_first_reply_stops_the_clock_and_the_person_sees_it(officer, mailoutbox):
    client = elder_client()
    client.post(reverse("help_request"), {"topic": "service", "text": ""})
    ticket = Complaint.objects.get(kind=ComplaintKind.HELP)
    assert not ticket.safety_related and ticket.text == "I would like to talk to a person."
    with time_machine.travel(ticket.created_at + dt.timedelta(minutes=4)):
        response = client_for(officer).post(reverse("complaint_staff_action", args=[ticket.public_id, "answer"]),
                                            {"answer": "Hello, this is Li from the Haven team. How can I help?"})
    assert response.status_code == 302
    with time_machine.travel(ticket.created_at + dt.timedelta(hours=2)):
        assert flag_overdue_complaints.delay().get() == 0
        ticket.refresh_from_db()
        assert complaints.overdue_reason(ticket, timezone.now()) is None
        queue = client_for(officer).get(reverse("complaint_staff_list"), {"overdue": "on"}).content.decode()
    assert ticket.reference not in queue
    status = client.get(reverse("complaint_status", args=[ticket.public_id])).content.decode()
    assert "Hello, this is Li from the Haven team." in status
    assert any("Hello, this is Li" in mail.body and mail.to == [elder().email] for mail in mailoutbox)


def test_only_60_plus_may_ask_and_the_complaint_form_cannot_file_help_requests(demo):
    client = client_for(adult())
    assert client.get(reverse("help_request")).status_code == 403
    assert client.post(reverse("help_request"), {"topic": "fraud"}).status_code == 403
    assert client_for().get(reverse("help_request")).status_code == 302  # sign in first
    elder_client = client_for(elder())
    page = elder_client.post(reverse("help_request"), {"topic": "<b>nonsense</b>"})
    assert page.status_code == 200 and not Complaint.objects.exists()
    elder_client.post(reverse("complaint_new"), {"kind": "help", "target": "service", "category": "other",
                                                 "text": "Please call me back"})
    assert not Complaint.objects.exists()
    with pytest.raises(complaints.ComplaintRefused):
        complaints.file_complaint(user=elder(), kind="help", target="service", category="other",
                                  text="Please call me back", language="en")
