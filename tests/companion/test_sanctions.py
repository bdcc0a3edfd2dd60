"""Sanctions end to end: staff pages over real HTTP, chat over real sockets (CN-CRI-09, CN-CON-04,
CN-CMP-03 appeal channel)."""
import datetime as dt
import json

import pytest
import time_machine
from channels.db import database_sync_to_async
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from companion.models import Author, Character, Conversation, CrisisCase, Message, Sanction
from companion.sanctions import pseudonym
from tests.fixtures import UserFactory, frames_until, join, open_socket

pytestmark = pytest.mark.django_db(transaction=True)

CRISIS_EN = "I can't do this anymore. I've got the pills ready and I'm going to end it tonight."


def db(func):
    return database_sync_to_async(func)()


def staff_user(role: str):
    user = UserFactory(language="en")
    user.groups.add(Group.objects.get(name=role))
    return user


def client_for(user=None, **kwargs) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en", **kwargs)
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def adult(demo):
    return UserFactory(language="en")


@pytest.fixture
def compliance(demo):
    return staff_user("compliance")


def impose(actor, **data):
    return client_for(actor).post("/console/sanctions/impose/", data)


def lift(actor, sanction, reason="Appeal upheld"):
    sid = str(sanction.public_id)
    return client_for(actor).post(f"/console/sanctions/{sid}/lift/", {f"{sid}-reason": reason})


def stored_message(user) -> Message:
    conversation, _ = Conversation.objects.get_or_create(user=user, character=Character.objects.get(slug="friend"),
                                                         archived_at=None)
    return Message.objects.create(conversation=conversation, author=Author.USER, text="threatening words")


async def sent_message_id(communicator, text="hello", client_id="m-1") -> str:
    await communicator.send_json_to({"type": "message", "text": text, "client_id": client_id})
    ack = (await frames_until(communicator, "message_ack"))[-1]
    return ack["id"]


async def assert_suspended_close(communicator, sanction_id: str):
    """CN-CRI-09: a notice with the appeal channel, then `closed` `suspended`, then the close."""
    notice = await communicator.receive_json_from(timeout=5)
    assert notice["type"] == "notice" and notice["kind"] == "sanction"
    assert notice["sanction"] == sanction_id
    assert notice["appeal"]["email"] == "appeals@example.com"
    assert notice["appeal"]["url"].startswith("mailto:appeals@example.com")
    assert "appeals@example.com" in notice["text"] and sanction_id in notice["text"]
    assert await communicator.receive_json_from(timeout=5) == {"type": "closed", "reason": "suspended"}
    assert (await communicator.receive_output(timeout=5))["type"] == "websocket.close"


async def test_suspension_closes_every_socket_refuses_reconnect_and_ends(adult, compliance):
    chat, ready, _ = await join(adult, "friend")
    other, _, _ = await join(adult, "mentor")
    evidence = await sent_message_id(chat)
    await frames_until(chat, "message_end")

    response = await db(lambda: impose(compliance, username=adult.username, kind="suspend", days="7",
                                       reason="Repeated threats against others", evidence=evidence))
    assert response.status_code == 302
    sanction = await db(lambda: Sanction.objects.get(user=adult))
    assert sanction.actor_id == compliance.pk and sanction.evidence == [{"kind": "message", "id": evidence}]
    assert sanction.ends_at - sanction.created_at == dt.timedelta(days=7)
    for communicator in (chat, other):
        await assert_suspended_close(communicator, str(sanction.public_id))
    # The notice is stored in the user's conversations too.
    notices = await db(lambda: [m.text for m in Message.objects.filter(conversation__user=adult, author=Author.SYSTEM)])
    assert notices.count(sanction.notice_text) == 2

    again, connected, _ = await open_socket(adult, "storyteller")
    assert connected
    await assert_suspended_close(again, str(sanction.public_id))
    # No conversation was opened for the refused socket.
    assert not await db(lambda: Conversation.objects.filter(user=adult, character__slug="storyteller").exists())

    page = await db(lambda: client_for(adult).get("/chat/friend/"))
    assert page.status_code == 403
    assert "appeals@example.com" in page.content.decode() and str(sanction.public_id) in page.content.decode()

    with time_machine.travel(timezone.now() + dt.timedelta(days=7, minutes=1), tick=True):
        back, ready, _ = await join(adult, "friend")
        assert ready["type"] == "ready"
        assert (await db(lambda: client_for(adult).get("/chat/friend/"))).status_code == 200
        await back.disconnect()


async def test_lift_restores_chat_and_termination_has_no_end(adult, compliance):
    evidence = await db(lambda: str(stored_message(adult).public_id))
    response = await db(lambda: impose(compliance, username=adult.username, kind="terminate",
                                       reason="Exploitation attempts", evidence=evidence))
    assert response.status_code == 302
    sanction = await db(lambda: Sanction.objects.get(user=adult))
    assert sanction.ends_at is None
    with time_machine.travel(timezone.now() + dt.timedelta(days=3650), tick=True):
        refused, connected, _ = await open_socket(adult)
        assert connected
        await assert_suspended_close(refused, str(sanction.public_id))

    assert (await db(lambda: lift(compliance, sanction))).status_code == 302
    sanction = await db(lambda: Sanction.objects.get(pk=sanction.pk))
    assert sanction.lifted_by_id == compliance.pk and sanction.lift_reason == "Appeal upheld"
    assert (await db(lambda: lift(compliance, sanction, "twice"))).status_code == 302  # idempotent
    assert (await db(lambda: Sanction.objects.get(pk=sanction.pk))).lift_reason == "Appeal upheld"
    chat, ready, _ = await join(adult)
    assert ready["type"] == "ready"
    await chat.disconnect()


async def test_restriction_turns_the_ai_off_but_keeps_the_safety_team_reachable(adult, compliance):
    chat, _, _ = await join(adult)
    evidence = await sent_message_id(chat, client_id="before")
    await frames_until(chat, "message_end")

    assert (await db(lambda: impose(compliance, username=adult.username, kind="restrict",
                                    reason="Abusive role-play", evidence=evidence))).status_code == 302
    notice = await chat.receive_json_from(timeout=5)
    assert notice["type"] == "notice" and notice["action"] == "restrict"
    assert "appeals@example.com" in notice["text"]

    # An ordinary message is refused and not stored: no AI text for a restricted user.
    await chat.send_json_to({"type": "message", "text": "tell me a story", "client_id": "after"})
    error = await chat.receive_json_from(timeout=5)
    assert error["type"] == "error" and error["code"] == "restricted" and error["client_id"] == "after"
    assert not await db(lambda: Message.objects.filter(client_id="after").exists())

    # A message in danger still reaches the safety team (CN-CRI-04), without AI text.
    await chat.send_json_to({"type": "message", "text": CRISIS_EN, "client_id": "danger"})
    frames = await frames_until(chat, "mode")
    assert frames[0]["type"] == "message_ack" and frames[-1]["mode"] == "waiting"
    # While the team has the conversation, the user's messages go through to it.
    await chat.send_json_to({"type": "message", "text": "are you there?", "client_id": "to-team"})
    assert (await chat.receive_json_from(timeout=5))["type"] == "message_ack"
    assert await chat.receive_nothing(timeout=0.5)
    assert not await db(lambda: Message.objects.filter(conversation__user=adult, author=Author.AI,
                                                       reply_to__client_id__in=["danger", "to-team"]).exists())
    await chat.disconnect()

    # A new socket gets `ready` (chat stays readable) and the notice.
    again, _, _ = await join(adult, "mentor")
    assert (await frames_until(again, "notice"))[-1]["action"] == "restrict"
    await again.disconnect()


async def test_lifting_a_restriction_lets_the_ai_answer_again(adult, compliance):
    chat, _, _ = await join(adult)
    evidence = await sent_message_id(chat, client_id="first")
    await frames_until(chat, "message_end")
    await db(lambda: impose(compliance, username=adult.username, kind="restrict", reason="Abuse",
                            evidence=evidence))
    await frames_until(chat, "notice")
    sanction = await db(lambda: Sanction.objects.get(user=adult))
    await db(lambda: lift(compliance, sanction))
    lifted = await frames_until(chat, "notice")
    assert lifted[-1]["kind"] == "sanction_lifted"
    await chat.send_json_to({"type": "message", "text": "hello again", "client_id": "second"})
    frames = await frames_until(chat, "message_end")
    assert any(f["type"] == "message_start" and f["author"] == "ai" for f in frames)
    await chat.disconnect()


# --- pages, permissions, validation, export -----------------------------------------------------

PAGES = ("list", "impose", "lift", "export")


def _requests(client, sanction, evidence):
    sid = str(sanction.public_id)
    return {
        "list": client.get("/console/sanctions/"),
        "impose": client.post("/console/sanctions/impose/", {
            "username": sanction.user.username, "kind": "restrict", "reason": "r", "evidence": evidence}),
        "lift": client.post(f"/console/sanctions/{sid}/lift/", {f"{sid}-reason": "ok"}),
        "export": client.get("/console/sanctions/export.json"),
    }


@pytest.mark.parametrize("role, expected", [
    (None, {"list": 302, "impose": 302, "lift": 302, "export": 302}),
    ("user", {"list": 403, "impose": 403, "lift": 403, "export": 403}),
    ("operator", {"list": 200, "impose": 403, "lift": 403, "export": 403}),
    ("regulator", {"list": 200, "impose": 403, "lift": 403, "export": 200}),
    ("compliance", {"list": 200, "impose": 302, "lift": 302, "export": 200}),
])
def test_permission_matrix(demo, adult, compliance, role, expected):
    message = stored_message(adult)
    sanction = Sanction.objects.create(user=adult, kind="suspend", reason="Threats", actor=compliance,
                                       evidence=[{"kind": "message", "id": str(message.public_id)}],
                                       ends_at=timezone.now() + dt.timedelta(days=3))
    actor = None if role is None else (compliance if role == "compliance" else staff_user(role))
    responses = _requests(client_for(actor), sanction, str(message.public_id))
    assert {name: response.status_code for name, response in responses.items()} == expected
    if role is None:
        assert all(r["Location"].startswith("/accounts/login/") for r in responses.values())
    sanction.refresh_from_db()
    assert (sanction.lifted_at is not None) == (role == "compliance")
    assert Sanction.objects.filter(kind="restrict").exists() == (role == "compliance")
    if role in ("operator", "regulator"):
        page = responses["list"].content.decode()
        assert "Threats" in page and 'data-testid="impose-form"' not in page and "Read-only access" in page
        assert (adult.username in page) == (role == "operator")  # regulators see the pseudonym only
        assert pseudonym(adult.pk) in page


def test_get_is_not_an_action_and_posts_need_csrf(demo, adult, compliance):
    client = client_for(compliance)
    assert client.get("/console/sanctions/impose/").status_code == 405
    strict = client_for(compliance, enforce_csrf_checks=True)
    response = strict.post("/console/sanctions/impose/", {
        "username": adult.username, "kind": "terminate", "reason": "r",
        "evidence": str(stored_message(adult).public_id)})
    assert response.status_code == 403 and not Sanction.objects.exists()


def test_evidence_from_another_users_messages_is_refused(demo, adult, compliance):
    other = UserFactory()
    foreign = stored_message(other)
    response = impose(compliance, username=adult.username, kind="suspend", days="3", reason="Threats",
                      evidence=str(foreign.public_id))
    assert response.status_code == 400
    assert f"{foreign.public_id} is not a message or case of this user." in response.content.decode()
    assert not Sanction.objects.exists()


@pytest.mark.parametrize("data, error", [
    ({"kind": "suspend", "reason": "x"}, "A suspension needs a number of days."),
    ({"kind": "terminate", "days": "3", "reason": "x"}, "A termination has no end: leave the days empty."),
    ({"kind": "suspend", "days": "400", "reason": "x"}, "Ensure this value is less than or equal to 365."),
    ({"kind": "restrict", "reason": "   "}, "This field is required."),
    ({"kind": "restrict", "reason": "x", "username": "nobody-here"}, "No user with this name."),
    ({"kind": "restrict", "reason": "x", "evidence": "not-an-id"}, "“not-an-id” is not a message or case id."),
])
def test_impose_form_shows_validation_errors(demo, adult, compliance, data, error):
    evidence = str(stored_message(adult).public_id)
    response = impose(compliance, **{"username": adult.username, "evidence": evidence, **data})
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Sanction.objects.exists()


def test_a_second_active_measure_of_the_same_kind_is_refused_and_self_sanction_too(demo, adult, compliance):
    evidence = str(stored_message(adult).public_id)
    assert impose(compliance, username=adult.username, kind="restrict", reason="a", evidence=evidence).status_code == 302
    again = impose(compliance, username=adult.username, kind="restrict", reason="a", evidence=evidence)
    assert again.status_code == 400 and "already has an active measure of this kind" in again.content.decode()
    assert Sanction.objects.count() == 1
    own = impose(compliance, username=compliance.username, kind="restrict", reason="a",
                 evidence=str(stored_message(compliance).public_id))
    assert own.status_code == 400 and "You cannot sanction your own account." in own.content.decode()
    assert Sanction.objects.count() == 1


def _case_for(user) -> CrisisCase:
    message = stored_message(user)
    return CrisisCase.objects.create(user=user, conversation=message.conversation, trigger=message, level="crisis",
                                     categories=["violence"], sla_deadline=timezone.now())


def test_impose_from_a_case_prefills_and_records_the_case(demo, adult, compliance):
    case = _case_for(adult)
    page = client_for(compliance).get(f"/console/sanctions/?case={case.public_id}").content.decode()
    assert str(case.trigger.public_id) in page and f'value="{case.public_id}"' in page
    response = impose(compliance, case=str(case.public_id), kind="suspend", days="2", reason="Violent threats",
                      evidence=str(case.trigger.public_id))
    assert response.status_code == 302
    sanction = Sanction.objects.get()
    assert sanction.user == adult
    assert sanction.evidence == [{"kind": "message", "id": str(case.trigger.public_id)},
                                 {"kind": "case", "id": str(case.public_id)}]
    both = impose(compliance, case=str(case.public_id), username=adult.username, kind="restrict", reason="x",
                  evidence=str(case.trigger.public_id))
    assert "Name either the user or the safety case" in both.content.decode()


def test_filters(demo, adult, compliance):
    evidence = [{"kind": "message", "id": str(stored_message(adult).public_id)}]
    now = timezone.now()
    Sanction.objects.create(user=adult, kind="restrict", reason="active-one", actor=compliance, evidence=evidence)
    Sanction.objects.create(user=adult, kind="suspend", reason="ended-one", actor=compliance, evidence=evidence,
                            created_at=now - dt.timedelta(days=9), ends_at=now - dt.timedelta(days=2))
    Sanction.objects.create(user=adult, kind="terminate", reason="lifted-one", actor=compliance, evidence=evidence,
                            lifted_at=now, lifted_by=compliance, lift_reason="appeal")
    client = client_for(compliance)

    def shown(query):
        page = client.get(f"/console/sanctions/?{query}").content.decode()
        return {name for name in ("active-one", "ended-one", "lifted-one") if name in page}

    assert shown("status=active") == {"active-one"}
    assert shown("status=lifted") == {"lifted-one"}
    assert shown("status=ended") == {"ended-one"}
    assert shown("kind=suspend") == {"ended-one"}
    assert shown("") == {"active-one", "ended-one", "lifted-one"}


def test_export_has_no_chat_text_and_pseudonymises_users_for_regulators(demo, adult, compliance):
    message = stored_message(adult)
    impose(compliance, username=adult.username, kind="suspend", days="5", reason="Threats to staff",
           evidence=str(message.public_id))
    regulator = staff_user("regulator")
    for viewer, sees_username in ((regulator, False), (compliance, True)):
        response = client_for(viewer).get("/console/sanctions/export.json")
        assert response["Content-Disposition"].startswith("attachment")
        body = response.content.decode()
        assert message.text not in body and "appeals@example.com" not in body  # no chat or notice text
        [record] = json.loads(body)["sanctions"]
        assert record["user_ref"] == pseudonym(adult.pk) and len(record["user_ref"]) == 16
        assert str(adult.pk) != record["user_ref"]
        assert ("username" in record) == sees_username and (adult.username in body) == sees_username
        assert record["kind"] == "suspend" and record["reason"] == "Threats to staff"
        assert record["evidence"] == [{"kind": "message", "id": str(message.public_id)}]
        assert record["actor"] == f"{compliance.pk:04d}" and record["active"] is True
        assert record["created_at"] and record["ends_at"] and record["lifted_at"] is None
