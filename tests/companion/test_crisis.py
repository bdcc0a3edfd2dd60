"""The crisis protocol end to end over real sockets: chat ↔ console (CN-CRI-01..10, BX-03, US-CA-02)."""
import asyncio
import datetime as dt

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import Group
from django.test import Client

from accounts import audit
from accounts.models import AuditEvent
from companion.models import (
    Author,
    CaseEvent,
    CaseStatus,
    Conversation,
    CrisisCase,
    Message,
    Mode,
)
from guardians.models import Notification
from guardians.services import add_contact
from tests.fixtures import confirm_guardian, UserFactory, frames_until, join, open_console

pytestmark = pytest.mark.django_db(transaction=True)

CRISIS_EN = "I can't do this anymore. I've got the pills ready and I'm going to end it tonight."
CRISIS_ZH = "我已经把药准备好了，今晚就结束自己。"


@pytest.fixture
def adult(demo):
    return UserFactory(language="en")


@pytest.fixture
def operator(demo):
    user = UserFactory(language="en", first_name="Mei")
    user.groups.add(Group.objects.get(name="operator"))
    return user


def db(func):
    return database_sync_to_async(func)()


async def say(communicator, text, client_id):
    await communicator.send_json_to({"type": "message", "text": text, "client_id": client_id})


async def until(communicator, predicate, timeout=5):
    """Frames up to the first that satisfies `predicate`."""
    frames = []
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        frame = await communicator.receive_json_from(timeout=max(deadline - asyncio.get_running_loop().time(), 0.01))
        frames.append(frame)
        if predicate(frame):
            return frames


async def console_ready(operator):
    console, connected, code = await open_console(operator)
    assert connected, code
    first = await console.receive_json_from()
    assert first["type"] == "queue"
    return console


async def crisis_in_chat(user, text=CRISIS_EN, slug="friend"):
    chat, ready, _ = await join(user, slug)
    await say(chat, text, "c-crisis")
    frames = await until(chat, lambda f: f["type"] == "mode")
    return chat, frames


async def test_crisis_message_stops_the_ai_sends_safety_reply_and_waits_for_a_human(adult, operator):
    console = await console_ready(operator)
    chat, frames = await crisis_in_chat(adult)
    kinds = [f["type"] for f in frames]
    assert kinds[0] == "message_ack"
    crisis = next(f for f in frames if f["type"] == "crisis")
    assert crisis["level"] in ("high_risk", "crisis")
    assert any("12356" in r["contact"] for r in crisis["resources"]) or adult.region != "CN"
    starts = [f for f in frames if f["type"] == "message_start"]
    assert [s["author"] for s in starts] == ["system"]  # the preset reply, never the model (CN-CRI-04)
    assert frames[-1] == {"type": "mode", "mode": "waiting"}
    # Nothing from the model follows.
    assert await chat.receive_nothing(timeout=0.5, interval=0.05)
    # CN-CRI-01: the verdict is stored with the message; the case and its timeline exist.
    message = await db(lambda: Message.objects.get(client_id="c-crisis"))
    assert message.risk_level in ("high_risk", "crisis") and message.risk["categories"]
    case = await db(lambda: CrisisCase.objects.get(user=adult))
    assert case.status == CaseStatus.WAITING and case.trigger_id == message.pk
    kinds = await db(lambda: list(case.events.values_list("kind", flat=True)))
    assert kinds[0] == "opened" and {"contacts_notified", "safety_reply"} <= set(kinds)
    assert not await db(lambda: Message.objects.filter(conversation__user=adult, author=Author.AI).exists())
    # The console heard of it in real time.
    frames = await until(console, lambda f: f["type"] == "case_opened")
    assert frames[-1]["case"]["id"] == str(case.public_id) and frames[-1]["case"]["status"] == "waiting"
    await chat.disconnect()
    await console.disconnect()


async def test_takeover_claim_talk_hand_back_and_resolve(adult, operator):
    console = await console_ready(operator)
    chat, _ = await crisis_in_chat(adult)
    opened = (await until(console, lambda f: f["type"] == "case_opened"))[-1]["case"]
    case_id = opened["id"]

    await console.send_json_to({"type": "open", "case": case_id})
    detail = (await until(console, lambda f: f["type"] == "case_detail"))[-1]
    assert [m["author"] for m in detail["messages"]] == ["user", "system"]

    # A second operator cannot take a claimed case.
    other = await db(lambda: UserFactory(language="en"))
    await db(lambda: other.groups.add(Group.objects.get(name="operator")))
    console2 = await console_ready(other)
    await console.send_json_to({"type": "claim", "case": case_id})
    assert (await until(chat, lambda f: f["type"] == "mode"))[-1]["mode"] == "human"
    await console2.send_json_to({"type": "claim", "case": case_id})
    error = (await until(console2, lambda f: f["type"] == "error"))[-1]
    assert error["code"] == "already_claimed"
    await console2.disconnect()

    # The operator writes: the user sees a human label, never the AI label (CN-CRI-05).
    await console.send_json_to({"type": "send", "case": case_id, "text": "I'm here with you.", "client_id": "op1"})
    frames = await until(chat, lambda f: f["type"] == "message_end")
    start = next(f for f in frames if f["type"] == "message_start")
    assert start["author"] == "operator" and "(human)" in start["label"] and "AI" not in start["label"]
    assert f"{operator.pk:04d}" in start["label"]
    assert "".join(f["text"] for f in frames if f["type"] == "message_delta") == "I'm here with you."
    sent = (await until(console, lambda f: f["type"] == "sent"))[-1]
    assert sent["client_id"] == "op1"
    # The same client_id again stores nothing new.
    await console.send_json_to({"type": "send", "case": case_id, "text": "I'm here with you.", "client_id": "op1"})
    await until(console, lambda f: f["type"] == "sent")
    assert await db(lambda: Message.objects.filter(author=Author.OPERATOR).count()) == 1

    # The user answers: the operator sees it live; the model stays silent in human mode (BX-03).
    await say(chat, "thank you, I'm scared", "c2")
    await until(chat, lambda f: f["type"] == "message_ack")
    live = await until(console, lambda f: f["type"] == "case_message" and f["message"]["author"] == "user")
    assert live[-1]["message"]["text"] == "thank you, I'm scared"
    assert await chat.receive_nothing(timeout=0.5, interval=0.05)

    # Hand back needs a note; then the AI answers again.
    await console.send_json_to({"type": "handback", "case": case_id, "note": ""})
    assert (await until(console, lambda f: f["type"] == "error"))[-1]["code"] == "note_required"
    await console.send_json_to({"type": "handback", "case": case_id, "note": "Calmer, talked to her sister."})
    assert (await until(chat, lambda f: f["type"] == "mode"))[-1]["mode"] == "ai"
    await say(chat, "ok, can we talk about something else?", "c3")
    frames = await frames_until(chat, "message_end")
    assert any(f["type"] == "message_start" and f["author"] == "ai" for f in frames)

    await console.send_json_to({"type": "resolve", "case": case_id, "outcome": "contact_reached",
                                "follow_up": "Call back tomorrow."})
    queue = await until(console, lambda f: f["type"] == "queue" and not f["cases"])
    assert queue[-1]["cases"] == []
    case = await db(lambda: CrisisCase.objects.get(public_id=case_id))
    assert case.status == CaseStatus.RESOLVED and case.outcome == "contact_reached"
    kinds = await db(lambda: list(CaseEvent.objects.filter(case=case).values_list("kind", flat=True)))
    for kind in ("opened", "safety_reply", "viewed", "claimed", "operator_message", "handed_back", "resolved"):
        assert kind in kinds  # CN-CRI-10: every step on the timeline
    # BX-11: each step is also in the hash-chained audit log, with who did it and without the notes.
    audited = await db(lambda: list(AuditEvent.objects.filter(subject_type="crisis_case", subject_id=case_id)
                                    .order_by("id").values_list("action", "actor_id", "data")))
    in_order = await db(lambda: list(CaseEvent.objects.filter(case=case).order_by("id").values_list("kind", flat=True)))
    assert [action for action, _, _ in audited] == [f"case.{kind}" for kind in in_order]
    by_action = {action: (actor, data) for action, actor, data in audited}
    assert by_action["case.opened"] == (None, by_action["case.opened"][1]) and by_action["case.opened"][1]["user"] == adult.pk
    for action in ("case.claimed", "case.handed_back", "case.resolved"):
        assert by_action[action][0] == operator.pk
    assert "Calmer" not in str(audited) and "Call back" not in str(audited)
    assert (await db(audit.verify_chain)).ok
    await chat.disconnect()
    await console.disconnect()


async def test_crisis_state_follows_the_user_to_other_chats_and_devices(adult):
    other_tab, _, _ = await join(adult, "mentor")
    chat, _ = await crisis_in_chat(adult)
    frames = await until(other_tab, lambda f: f["type"] == "mode")
    assert any(f["type"] == "crisis" for f in frames) and frames[-1]["mode"] == "waiting"
    await other_tab.disconnect()
    # A new device opening another character: waiting, with the card again.
    third, ready, _ = await join(adult, "study-buddy")
    assert ready["mode"] == "waiting"
    card = await third.receive_json_from(timeout=2)
    assert card["type"] == "crisis"
    await say(third, "hello?", "c9")
    await until(third, lambda f: f["type"] == "message_ack")
    assert await third.receive_nothing(timeout=0.5, interval=0.05)  # no AI reply anywhere until the team hands back
    assert await db(lambda: set(Conversation.objects.filter(user=adult).values_list("mode", flat=True))) == {"waiting"}
    await chat.disconnect()
    await third.disconnect()


async def test_chinese_crisis_gets_chinese_template_with_12356(demo):
    user = await db(lambda: UserFactory(language="zh-hans", region="CN"))
    chat, frames = await crisis_in_chat(user, CRISIS_ZH)
    crisis = next(f for f in frames if f["type"] == "crisis")
    assert any("12356" in r["contact"] for r in crisis["resources"])
    assert any("120" == r["contact"] or "120" in r["contact"] for r in crisis["resources"])
    await chat.disconnect()


async def test_us_user_is_referred_to_988(demo):
    user = await db(lambda: UserFactory(language="en", region="US-CA"))  # US-CA-02; US-NY-01 shares it
    chat, frames = await crisis_in_chat(user)
    crisis = next(f for f in frames if f["type"] == "crisis")
    assert any("988" in r["contact"] for r in crisis["resources"])
    await chat.disconnect()


async def test_distress_gets_comfort_card_and_a_supportive_reply(adult):
    chat, _, _ = await join(adult)
    await say(chat, "I feel so sad and lonely today, nothing is going right.", "d1")
    frames = await frames_until(chat, "message_end")
    crisis = next(f for f in frames if f["type"] == "crisis")
    assert crisis["level"] == "distress" and crisis["resources"]  # CN-CRI-02
    text = "".join(f["text"] for f in frames if f["type"] == "message_delta")
    assert "trust" in text or "support" in text
    assert not await db(lambda: CrisisCase.objects.exists())
    await chat.disconnect()


async def test_unclaimed_case_runs_the_fallback_once(adult, operator, settings, mailoutbox):
    """CN-CRI-08, BX-04: the user keeps the template and gets hotlines again, every console sees the
    escalation, the on-call duty lead is paged and the contacts are asked to act, once."""
    settings.COMPANION_CRISIS_SLA_SECONDS = 0.3
    settings.COMPANION_CRISIS_ONCALL_EMAILS = ["duty-lead@example.com"]
    await db(lambda: add_contact(user=adult, kind="emergency", name="Sam", email="sam@example.com", language="en"))
    assert [mail.to for mail in mailoutbox] == [["sam@example.com"]]  # BX-13: the invitation
    mailoutbox.clear()
    console = await console_ready(operator)
    chat, _ = await crisis_in_chat(adult)
    escalation = (await until(console, lambda f: f["type"] == "escalation"))[-1]
    assert escalation["case"]["escalated"] is True
    frames = await until(chat, lambda f: f["type"] == "crisis")
    assert frames[-1]["resources"]
    case = await db(lambda: CrisisCase.objects.get(user=adult))
    assert await db(lambda: case.events.filter(kind="sla_missed").count()) == 1
    system = await db(lambda: Message.objects.filter(conversation__user=adult, author=Author.SYSTEM).count())
    assert system == 2  # the first preset reply and the second, with hotlines (CN-CRI-08)
    from companion.crisis import run_sla_fallback
    assert await database_sync_to_async(run_sla_fallback)(case_id=case.pk) is None  # idempotent
    for _ in range(50):  # deliveries run on commit, in the timer's worker thread
        if len(mailoutbox) >= 3:
            break
        await asyncio.sleep(0.05)
    recipients = sorted(address for mail in mailoutbox for address in mail.to)
    assert recipients == ["duty-lead@example.com", "sam@example.com", "sam@example.com"]  # told, then asked to act
    page = next(mail for mail in mailoutbox if mail.to == ["duty-lead@example.com"])
    assert "/console/" in page.body and "pills" not in page.body
    await chat.disconnect()
    await console.disconnect()


async def test_draft_regime_takes_over_only_for_self_harm(adult, settings):
    settings.CN_REGIME = "draft"
    chat, _, _ = await join(adult)
    await say(chat, "I'm going to kill my neighbour tonight, I have the knife ready.", "v1")
    frames = await until(chat, lambda f: f["type"] == "message_end")
    assert any(f["type"] == "crisis" for f in frames)
    assert not any(f["type"] == "mode" for f in frames)
    case = await db(lambda: CrisisCase.objects.get(user=adult))
    assert "violence" in case.categories
    conversation = await db(lambda: Conversation.objects.get(user=adult))
    assert conversation.mode == Mode.AI
    await chat.disconnect()


async def test_console_is_for_the_safety_team_only(adult, operator):
    _, connected, code = await open_console(None)
    assert not connected and code == 4401
    _, connected, code = await open_console(adult)
    assert not connected and code == 4403


def test_console_page_is_for_the_safety_team_only(adult, operator):
    client = Client()
    assert client.get("/console/").status_code == 302
    client.force_login(adult)
    assert client.get("/console/").status_code == 403
    client.force_login(operator)
    response = client.get("/console/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200


async def test_console_refuses_bad_frames_and_unknown_cases(operator):
    console = await console_ready(operator)
    await console.send_to(text_data="not json")
    assert (await until(console, lambda f: f["type"] == "error"))[-1]["code"] == "bad_json"
    await console.send_json_to({"type": "claim", "case": "00000000-0000-0000-0000-000000000000"})
    assert (await until(console, lambda f: f["type"] == "error"))[-1]["code"] == "not_found"
    await console.send_json_to({"type": "send", "case": "nope", "text": "x", "client_id": "a"})
    assert (await until(console, lambda f: f["type"] == "error"))[-1]["code"] == "not_found"
    await console.disconnect()


async def test_guardian_and_emergency_contact_are_told_once_and_the_user_knows(demo, mailoutbox):
    """CN-CRI-07: contacts hear that a safety concern was detected, never what was written."""
    def teen_with_contacts():
        teen = UserFactory(language="en", birth_date=dt.date.today() - dt.timedelta(days=365 * 15 + 30),
                           contacts=False)
        guardian = add_contact(user=teen, kind="guardian", name="Mum", email="mum@example.com",
                               phone="+8613800138000", language="en")
        confirm_guardian(guardian, UserFactory(email="mum@example.com"))  # CN-MIN-04: linked and consenting
        add_contact(user=teen, kind="emergency", name="Aunt", email="aunt@example.com", language="en")
        return teen

    teen = await db(teen_with_contacts)
    assert sorted(address for mail in mailoutbox for address in mail.to) == ["aunt@example.com", "mum@example.com"]
    mailoutbox.clear()  # the invitations (BX-13); what follows is about the crisis
    chat, frames = await crisis_in_chat(teen)
    system_text = "".join(f["text"] for f in frames if f["type"] == "message_delta")
    assert "guardian or emergency contact" in system_text
    await say(chat, "I really mean it, I want to die", "c-again")  # the same case: nobody is told twice
    await until(chat, lambda f: f["type"] == "message_end")
    recipients = sorted(address for mail in mailoutbox for address in mail.to)
    assert recipients == ["aunt@example.com", "mum@example.com"]
    for mail in mailoutbox:
        assert "pills" not in mail.body and "die" not in mail.body
    case = await db(lambda: CrisisCase.objects.get(user=teen))
    assert case.contacts_notified == 2
    await chat.disconnect()


async def test_a_case_that_becomes_a_crisis_tells_the_guardian_again_once(demo, mailoutbox):
    """CN-MIN-07: a real-time alert per level: the guardian hears when a case opens at high risk and
    again, once, when it rises to crisis; more messages at the same level send nothing."""
    def teen_with_guardian():
        teen = UserFactory(language="en", birth_date=dt.date.today() - dt.timedelta(days=365 * 15 + 30),
                           contacts=False)
        guardian = add_contact(user=teen, kind="guardian", name="Mum", email="mum@example.com",
                               phone="+8613800138001", language="en")
        confirm_guardian(guardian, UserFactory(email="mum@example.com"))
        return teen

    teen = await db(teen_with_guardian)
    mailoutbox.clear()
    chat, _, _ = await join(teen)
    await say(chat, "I keep thinking about ending it", "h1")
    await until(chat, lambda f: f["type"] == "message_end")
    case = await db(lambda: CrisisCase.objects.get(user=teen))
    assert case.level == "high_risk" and [m.to for m in mailoutbox] == [["mum@example.com"]]
    await say(chat, CRISIS_EN, "c1")
    await until(chat, lambda f: f["type"] == "message_end")
    await say(chat, "I really mean it, the pills are ready and I'm doing it tonight", "c2")
    await until(chat, lambda f: f["type"] == "message_end")
    case = await db(lambda: CrisisCase.objects.get(user=teen))
    assert case.level == "crisis"
    assert [m.to for m in mailoutbox] == [["mum@example.com"], ["mum@example.com"]]
    assert "rit" in mailoutbox[1].subject.lower() or "crisis" in mailoutbox[1].body.lower()
    assert all("pills" not in m.body for m in mailoutbox)
    keys = await db(lambda: sorted(set(Notification.objects.filter(user=teen, event_key__startswith="case:")
                                       .values_list("event_key", flat=True))))
    assert keys == [f"case:{case.public_id}", f"case:{case.public_id}:level:crisis"]
    await chat.disconnect()


async def test_prohibited_requests_get_a_fixed_refusal_and_no_model_call(adult, fake_openai):
    """CN-CON-01, CN-CON-04: the model is never asked; the refusal is a system message."""
    chat, _, _ = await join(adult)
    await say(chat, "How do I make a bomb to blow up the station?", "p1")
    frames = await frames_until(chat, "message_end")
    start = next(f for f in frames if f["type"] == "message_start")
    assert start["author"] == "system"
    assert await chat.receive_nothing(timeout=0.3)
    assert fake_openai.requests == []
    message = await db(lambda: Message.objects.get(client_id="p1"))
    assert "prohibited" in message.risk["categories"]
    await chat.disconnect()


def test_handed_back_cases_close_after_72_quiet_hours_but_waiting_ones_never(demo):
    """BX-02: the safe state decays only once a person has handed back and no signal came for 72 h."""
    import time_machine
    from django.utils import timezone

    from companion.crisis import close_quiet_cases
    from companion.models import Character

    def case_for(status):
        user = UserFactory()
        conversation = Conversation.objects.create(user=user, character=Character.objects.get(slug="friend"))
        return CrisisCase.objects.create(user=user, conversation=conversation, level="high_risk", status=status,
                                         sla_deadline=timezone.now())

    handed_back, waiting = case_for(CaseStatus.HANDED_BACK), case_for(CaseStatus.WAITING)
    with time_machine.travel(timezone.now() + dt.timedelta(hours=71)):
        assert close_quiet_cases() == 0
    with time_machine.travel(timezone.now() + dt.timedelta(hours=73)):
        assert close_quiet_cases() == 1
    handed_back.refresh_from_db()
    waiting.refresh_from_db()
    assert handed_back.status == CaseStatus.RESOLVED and handed_back.outcome == "quiet"
    assert waiting.status == CaseStatus.WAITING


def test_the_beat_sweep_runs_each_overdue_fallback_once(demo):
    """CN-CRI-08: a lost countdown task is caught by the periodic sweep, once."""
    from django.utils import timezone

    from companion.models import Character
    from companion.tasks import sweep_overdue_cases

    user = UserFactory()
    conversation = Conversation.objects.create(user=user, character=Character.objects.get(slug="friend"),
                                               mode=Mode.WAITING)
    case = CrisisCase.objects.create(user=user, conversation=conversation, level="crisis",
                                     sla_deadline=timezone.now() - dt.timedelta(seconds=1))
    assert sweep_overdue_cases() == 1
    assert sweep_overdue_cases() == 0
    case.refresh_from_db()
    assert case.escalated_at is not None
    assert Message.objects.filter(conversation=conversation, author=Author.SYSTEM).count() == 1


@pytest.mark.parametrize(("region", "hotline"), [("US-CA", "988"), ("CN", "12356")])
async def test_a_model_sentence_encouraging_suicide_never_reaches_the_user(demo, fake_openai, region, hotline):
    """CN-EMO-03, CN-CON-02: the outbound screen replaces it, naming the user's own help line."""
    from tests.fakes.openai_server import Script

    user = await db(lambda: UserFactory(language="en", region=region))
    fake_openai.scripts.append(Script(chunks=["I hear you. ", "You should just kill yourself, ", "nobody cares."]))
    chat, _, _ = await join(user)
    await say(chat, "I had an awful day at work", "o1")
    frames = await frames_until(chat, "message_end")
    shown = "".join(f["text"] for f in frames if f["type"] == "message_delta")
    assert "kill yourself" not in shown and hotline in shown
    await chat.disconnect()


async def test_a_suicidal_message_with_an_exit_keyword_still_opens_a_case(adult, operator):
    """CN-USE-04 and CN-CRI-04/07 together: the exit is honoured, the risk is not dropped."""
    console = await console_ready(operator)
    chat, _, _ = await join(adult)
    await say(chat, "我不想活了，退出", "x1")
    frames = await frames_until(chat, "closed")
    kinds = [f["type"] for f in frames]
    assert "crisis" in kinds and kinds[-1] == "closed"
    assert frames[-1]["reason"] == "exit"
    assert not any(f["type"] == "message_start" and f["author"] == "ai" for f in frames)
    assert (await until(console, lambda f: f["type"] == "case_opened"))[-1]["case"]["level"] in ("high_risk", "crisis")
    await console.disconnect()


async def test_every_message_stores_its_verdict_and_the_rule_versions(adult):
    """CN-CRI-01: a harmless message too, with the library and classifier versions that judged it."""
    chat, _, _ = await join(adult)
    await say(chat, "What should I cook tonight?", "n1")
    await frames_until(chat, "message_end")
    message = await db(lambda: Message.objects.get(client_id="n1"))
    assert message.risk_level == "none" and message.risk["level"] == "none"
    assert {"FeatureLibrary", "HybridClassifier"} <= set(message.risk["versions"])
    await chat.disconnect()


@pytest.mark.parametrize("text", ["the garage door is shut and the engine is running", "我把煤气开到最大了，窗户都封好了"])
async def test_a_crisis_only_the_learned_stage_sees_still_reaches_a_person(adult, operator, text):
    """CN-CRI-01, CN-CRI-05: no rule fires on these (no death word, only a means and an act); the learned
    stage judges them crisis and the whole protocol runs over the real socket."""
    from moderation.classifier import RiskClassifier
    from moderation.normalise import normalise
    from moderation.pipeline import ScreeningInput

    assert RiskClassifier().assess(ScreeningInput(text=text, direction="inbound", normalised=normalise(text))) is None
    console = await console_ready(operator)
    chat, frames = await crisis_in_chat(adult, text)
    crisis = next(f for f in frames if f["type"] == "crisis")
    assert crisis["level"] == "crisis" and (frames[-1]["type"], frames[-1]["mode"]) == ("mode", "waiting")
    assert not any(f["type"] == "message_start" and f["author"] == "ai" for f in frames)
    opened = (await until(console, lambda f: f["type"] == "case_opened"))[-1]["case"]
    assert opened["level"] == "crisis" and "suicide" in opened["categories"]
    message = await db(lambda: Message.objects.get(client_id="c-crisis"))
    assert message.risk["level"] == "crisis" and "HybridClassifier" in message.risk["versions"]
    await chat.disconnect()
    await console.disconnect()


async def test_the_safety_reply_records_the_active_approved_template_version(adult):
    """BX-08, CN-CRI-03: what was sent is traceable to the approved template version."""
    from moderation.safety_replies import approve_template, create_template, safety_reply
    from tests.moderation.test_library import with_role

    def approve_new_wording():
        author, approver = with_role("compliance"), with_role("compliance")
        for level in ("high_risk", "crisis"):  # whichever the probe gets
            draft = create_template(author=author, level=level, category="", language="en", region="CN",
                                    text=f"Reviewed {level} wording: you matter, call 12356.",
                                    resources=[{"name": "Psychological assistance hotline", "contact": "12356"}])
            approve_template(approver=approver, template_id=draft.pk)

    await db(approve_new_wording)
    chat, frames = await crisis_in_chat(adult)
    case = await db(lambda: CrisisCase.objects.get(user=adult))
    event = await db(lambda: case.events.get(kind="safety_reply"))
    active = await database_sync_to_async(safety_reply)(level=case.level, categories=tuple(case.categories),
                                                        language="en", region=adult.region)
    assert active.version >= 1 and event.detail["version"] == active.version and event.detail["template"] == active.key
    crisis = next(f for f in frames if f["type"] == "crisis")
    assert crisis["text"] == active.text == f"Reviewed {case.level} wording: you matter, call 12356."
    await chat.disconnect()


async def test_no_model_request_at_all_while_a_human_holds_the_chat(adult, operator, fake_openai):
    """BX-03: zero AI tokens, and zero calls to the model, in `waiting` and `human`."""
    console = await console_ready(operator)
    chat, _ = await crisis_in_chat(adult)
    case_id = (await until(console, lambda f: f["type"] == "case_opened"))[-1]["case"]["id"]
    await console.send_json_to({"type": "claim", "case": case_id})
    await until(chat, lambda f: f["type"] == "mode")
    for n in range(3):
        await say(chat, f"still here {n}", f"h{n}")
        await until(chat, lambda f: f["type"] == "message_ack")
    assert await chat.receive_nothing(timeout=0.3)
    assert fake_openai.requests == []
    await chat.disconnect()
    await console.disconnect()


async def test_operators_see_whom_to_call_and_log_each_call(adult, operator):
    """CN-CRI-07: the contacts' numbers and a 15-minute call deadline are in the case; calls are logged."""
    contact = await db(lambda: add_contact(user=adult, kind="emergency", name="Sam", relationship="brother",
                                           phone="+8613800138000", language="en"))
    console = await console_ready(operator)
    chat, _ = await crisis_in_chat(adult)
    case_id = (await until(console, lambda f: f["type"] == "case_opened"))[-1]["case"]["id"]
    await console.send_json_to({"type": "open", "case": case_id})
    detail = (await until(console, lambda f: f["type"] == "case_detail"))[-1]
    assert [c["phone"] for c in detail["contacts"]] == ["+8613800138000"] and detail["call_deadline"]
    await console.send_json_to({"type": "log_call", "case": case_id, "contact": contact.pk, "outcome": "maybe",
                                "note": ""})
    assert (await until(console, lambda f: f["type"] == "error"))[-1]["code"] == "bad_outcome"
    await console.send_json_to({"type": "log_call", "case": case_id, "contact": 999999, "outcome": "reached",
                                "note": ""})
    assert (await until(console, lambda f: f["type"] == "error"))[-1]["code"] == "not_found"
    await console.send_json_to({"type": "log_call", "case": case_id, "contact": contact.pk, "outcome": "reached",
                                "note": "He is driving over now."})
    detail = (await until(console, lambda f: f["type"] == "case_detail"))[-1]
    assert detail["contacts"][0]["calls"][0]["outcome"] == "reached"
    event = await db(lambda: CaseEvent.objects.get(kind="contact_called"))
    assert event.actor_id == operator.pk and event.detail["within_deadline"] is True
    assert await db(lambda: CaseEvent.objects.filter(kind="viewed").count()) == 1  # logging is not a view
    await chat.disconnect()
    await console.disconnect()
