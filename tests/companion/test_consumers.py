"""The chat socket through the real ASGI stack (companion.asgi): contracts §5."""
import asyncio
import datetime as dt
import json

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from companion.labels import aigc_matches
from companion.models import Author, Conversation, CrisisCase, Message, MessageStatus, Mode
from tests.fakes.openai_server import Script
from tests.fixtures import UserFactory, frames_until, join, open_socket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def adult(demo):
    return UserFactory(language="en")


def stored(**filters):
    return database_sync_to_async(lambda: list(Message.objects.filter(**filters).order_by("id")))()


async def send_message(communicator, text, client_id="c1", **extra):
    await communicator.send_json_to({"type": "message", "text": text, "client_id": client_id, **extra})


async def test_anonymous_socket_is_refused(demo):
    communicator, connected, code = await open_socket(None)
    assert not connected and code == 4401


async def test_foreign_origin_is_refused(adult):
    communicator, connected, _ = await open_socket(adult, origin=b"http://evil.example")
    assert not connected


async def test_ready_frame_carries_disclosure_and_history(adult):
    communicator, connected, _ = await open_socket(adult)
    assert connected
    ready = await communicator.receive_json_from()
    assert ready["type"] == "ready" and ready["mode"] == "ai" and ready["minor_mode"] is False
    assert "AI" in ready["disclosure"] and "not a human" in ready["disclosure"]  # CN-DIS-01
    assert ready["history"] == [] and ready["conversation"]
    await communicator.disconnect()


async def test_message_streams_a_labelled_reply_and_stores_it(adult):
    communicator, _, _ = await join(adult)
    await send_message(communicator, "Hello, I had a good day!")
    frames = await frames_until(communicator, "message_end")
    kinds = [f["type"] for f in frames]
    assert kinds[0] == "message_ack" and kinds[1] == "message_start" and kinds.count("message_delta") > 2
    start, end = frames[1], frames[-1]
    assert start["author"] == "ai" and start["label"] == "AI-generated"  # CN-DIS-04
    text = "".join(f["text"] for f in frames if f["type"] == "message_delta")
    reply = (await stored(author=Author.AI))[0]
    assert reply.text == text and reply.status == MessageStatus.COMPLETE
    # CN-DIS-05: implicit label stored with the message and sent in message_end.
    assert end["aigc"] == reply.aigc and end["aigc"]["ProduceID"] == str(reply.public_id)
    assert aigc_matches(text, end["aigc"])
    await communicator.disconnect()


async def test_resend_with_same_client_id_is_stored_once(adult):
    communicator, _, _ = await join(adult)
    await send_message(communicator, "Hi there", client_id="same")
    first = await frames_until(communicator, "message_end")
    await send_message(communicator, "Hi there", client_id="same")
    again = await communicator.receive_json_from()
    assert again["type"] == "message_ack" and again["id"] == first[0]["id"]
    assert await communicator.receive_nothing(timeout=0.2)
    assert len(await stored(author=Author.USER)) == 1 and len(await stored(author=Author.AI)) == 1
    await communicator.disconnect()


async def test_reconnect_shows_history_and_resend_after_reconnect_is_not_duplicated(adult):
    communicator, _, _ = await join(adult)
    await send_message(communicator, "Remember me", client_id="r1")
    await frames_until(communicator, "message_end")
    await communicator.disconnect()

    communicator, ready, _ = await join(adult)
    assert [item["author"] for item in ready["history"]] == ["user", "ai"]
    assert ready["history"][0]["text"] == "Remember me" and ready["history"][0]["client_id"] == "r1"
    assert ready["history"][1]["label"] == "AI-generated" and ready["history"][1]["aigc"]["Label"] == "1"
    await send_message(communicator, "Remember me", client_id="r1")
    ack = await communicator.receive_json_from()
    assert ack["id"] == ready["history"][0]["id"]
    assert len(await stored(author=Author.USER)) == 1
    await communicator.disconnect()


@pytest.mark.parametrize("raw, code", [
    ("{not json", "bad_json"),
    ("[1, 2]", "bad_frame"),
    (json.dumps({"type": "dance"}), "unknown_type"),
    (json.dumps({"type": "message", "text": 5, "client_id": "x"}), "bad_frame"),
    (json.dumps({"type": "message", "text": "   ", "client_id": "x"}), "empty"),
    (json.dumps({"type": "message", "text": "x" * 2001, "client_id": "x"}), "too_long"),
    (json.dumps({"type": "message", "text": "hi", "client_id": ""}), "bad_client_id"),
    (json.dumps({"type": "message", "text": "hi", "client_id": "y" * 65}), "bad_client_id"),
    (json.dumps({"type": "ack", "reminder_id": 3}), "bad_frame"),
])
async def test_bad_frames_get_an_error_and_store_nothing(adult, raw, code):
    communicator, _, _ = await join(adult)
    await communicator.send_to(text_data=raw)
    error = await communicator.receive_json_from()
    assert error["type"] == "error" and error["code"] == code and error["detail"]
    assert await stored() == []
    # The socket stays open for the next, valid frame.
    await send_message(communicator, "still here")
    assert (await communicator.receive_json_from())["type"] == "message_ack"
    await communicator.disconnect()


async def test_binary_and_oversized_frames(adult):
    communicator, _, _ = await join(adult)
    await communicator.send_to(bytes_data=b"\x00\x01")
    assert (await communicator.receive_json_from())["code"] == "bad_frame"
    await communicator.send_to(text_data=json.dumps({"type": "message", "text": "x" * 20000, "client_id": "big"}))
    assert (await communicator.receive_json_from())["code"] == "frame_too_large"
    assert (await communicator.receive_output())["type"] == "websocket.close"  # abusive input closes
    assert await stored() == []


async def test_another_users_conversation_is_not_reachable(adult):
    other = await database_sync_to_async(UserFactory)()
    theirs, their_ready, _ = await join(other)
    await send_message(theirs, "my secret diary", client_id="s1")
    await frames_until(theirs, "message_end")

    mine, my_ready, _ = await join(adult)
    assert my_ready["conversation"] != their_ready["conversation"]
    assert all("secret" not in item["text"] for item in my_ready["history"])
    await send_message(mine, "let me in", client_id="x1", conversation=their_ready["conversation"])
    error = await mine.receive_json_from()
    assert error["code"] == "not_found"
    # Same client_id as the other user's message: stored separately, never their message.
    await send_message(mine, "hello", client_id="s1")
    ack = await mine.receive_json_from()
    assert ack["id"] != their_ready["conversation"]
    mine_stored = await stored(conversation__user=adult, author=Author.USER)
    assert [m.text for m in mine_stored] == ["hello"]
    await mine.disconnect()
    await theirs.disconnect()


async def test_rate_limit(adult, settings):
    settings.COMPANION_MESSAGES_PER_MINUTE = 2
    communicator, _, _ = await join(adult)
    for n in range(2):
        await send_message(communicator, f"message {n}", client_id=f"m{n}")
        await frames_until(communicator, "message_end")
    await send_message(communicator, "one too many", client_id="m3")
    error = await communicator.receive_json_from()
    assert error["code"] == "rate_limited" and error["client_id"] == "m3"
    assert len(await stored(author=Author.USER)) == 2
    await communicator.disconnect()


async def test_cancel_stops_generation_and_keeps_the_partial_reply(adult, settings):
    settings.LLM_OFFLINE_CHUNK_DELAY_MS = 200
    communicator, _, _ = await join(adult)
    await send_message(communicator, "Tell me something long")
    await frames_until(communicator, "message_delta")
    await communicator.send_json_to({"type": "cancel"})
    frames = await frames_until(communicator, "message_end", timeout=2)
    assert frames[-1]["status"] == "cancelled"
    reply = (await stored(author=Author.AI))[0]
    assert reply.status == MessageStatus.CANCELLED and reply.text
    assert aigc_matches(reply.text, reply.aigc)
    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()


async def test_busy_while_streaming(adult, settings):
    settings.LLM_OFFLINE_CHUNK_DELAY_MS = 200
    communicator, _, _ = await join(adult)
    await send_message(communicator, "first", client_id="a")
    await frames_until(communicator, "message_delta")
    await send_message(communicator, "second", client_id="b")
    frames = await frames_until(communicator, "error")
    assert frames[-1]["code"] == "busy" and frames[-1]["client_id"] == "b"
    assert [m.text for m in await stored(author=Author.USER)] == ["first"]
    await communicator.disconnect()


async def test_exit_frame_mid_stream_closes_with_no_more_ai_text(adult, settings):
    settings.LLM_OFFLINE_CHUNK_DELAY_MS = 200
    communicator, _, _ = await join(adult)
    await send_message(communicator, "Tell me a story")
    await frames_until(communicator, "message_delta")
    await communicator.send_json_to({"type": "exit"})
    frames = await frames_until(communicator, "closed", timeout=1)
    after_exit = frames[[f["type"] for f in frames].index("closed") - 3:]
    assert frames[-1]["reason"] == "exit"
    # BX-17: between exit and closed only the fixed system confirmation, no AI text.
    assert all(f.get("author") != "ai" for f in after_exit if f["type"] == "message_start")
    assert (await communicator.receive_output(timeout=1))["type"] == "websocket.close"
    reply = (await stored(author=Author.AI))[0]
    assert reply.status == MessageStatus.CANCELLED
    assert (await stored(author=Author.SYSTEM))[0].text == "You have ended this conversation."


@pytest.mark.parametrize("keyword", ["退出", "结束对话", "exit", "QUIT", "/exit", " 我要退出。"])
async def test_exit_keyword_ends_the_session_without_calling_the_model(adult, fake_openai, keyword):
    communicator, _, _ = await join(adult)
    await send_message(communicator, keyword)
    frames = await frames_until(communicator, "closed")
    assert frames[0]["type"] == "message_ack" and frames[-1]["reason"] == "exit"
    assert [f["author"] for f in frames if f["type"] == "message_start"] == ["system"]
    assert fake_openai.requests == []  # CN-USE-04: no LLM call
    assert (await communicator.receive_output(timeout=1))["type"] == "websocket.close"


async def test_exit_in_one_tab_closes_the_other(adult):
    first, _, _ = await join(adult)
    second, _, _ = await join(adult)
    await first.send_json_to({"type": "exit"})
    await frames_until(first, "closed")
    closed = await frames_until(second, "closed")
    assert closed[-1]["reason"] == "exit"


async def test_second_tab_sees_messages_from_the_first(adult):
    first, _, _ = await join(adult)
    second, _, _ = await join(adult)
    await send_message(first, "hello from tab one")
    await frames_until(first, "message_end")
    synced = [f for f in await frames_until(second, "sync") if f["type"] == "sync"]
    assert synced[0]["messages"][0]["text"] == "hello from tab one"
    reply_sync = await frames_until(second, "sync")
    assert reply_sync[-1]["messages"][0]["author"] == "ai"
    await first.disconnect()
    await second.disconnect()


async def test_replies_follow_the_users_language(demo):
    user = await database_sync_to_async(UserFactory)(language="zh-hans")
    communicator, ready, _ = await join(user)
    assert "人工智能" in ready["disclosure"]
    await send_message(communicator, "你好，今天有点累")
    frames = await frames_until(communicator, "message_end")
    assert frames[1]["label"] == "AI生成"
    text = "".join(f["text"] for f in frames if f["type"] == "message_delta")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in text)
    await send_message(communicator, "Hello, how are you?", client_id="en")
    frames = await frames_until(communicator, "message_end")
    text = "".join(f["text"] for f in frames if f["type"] == "message_delta")
    assert text.isascii()
    await communicator.disconnect()


async def test_minor_cannot_open_adult_only_character(demo):
    minor = await database_sync_to_async(lambda: __import__("accounts.models").models.User.objects.get(
        username="minor13"))()
    communicator, connected, _ = await open_socket(minor, slug="partner")
    assert connected
    assert await communicator.receive_json_from() == {"type": "closed", "reason": "blocked"}
    assert (await communicator.receive_output())["type"] == "websocket.close"


async def test_unknown_character_is_blocked(adult):
    communicator, _, _ = await open_socket(adult, slug="nobody")
    assert (await communicator.receive_json_from())["reason"] == "blocked"


async def test_openai_provider_streams_through_the_socket(adult, fake_openai):
    fake_openai.scripts.append(Script(chunks=["Hi", " there", ", friend."]))
    communicator, ready, _ = await join(adult)
    assert ready["model"] == {"provider": "openai", "model": "fake-model", "demo": False}
    await send_message(communicator, "Hello?")
    frames = await frames_until(communicator, "message_end")
    # Held back only until each clause is screened (moderation/streaming.py).
    assert [f["text"] for f in frames if f["type"] == "message_delta"] == ["Hi there, ", "friend."]
    sent = fake_openai.requests[0]["body"]
    assert sent["stream"] is True and sent["model"] == "fake-model"
    assert sent["messages"][0]["role"] == "system" and "not a human" in sent["messages"][0]["content"]
    assert sent["messages"][-1] == {"role": "user", "content": "Hello?"}
    await communicator.disconnect()


async def test_prompt_history_stays_whole_across_tabs_and_other_writers(adult, fake_openai):
    """Each socket keeps the conversation's latest messages between its own messages (a read and
    decryption fewer per message), but the prompt and the risk screen must still see every message:
    one sent from another tab, and one stored by another process whose broadcast never came."""
    fake_openai.default = Script(chunks=["Sure."])
    tab_a, _, _ = await join(adult)
    tab_b, _, _ = await join(adult)

    def prompt(index):
        return [(m["role"], m["content"]) for m in fake_openai.requests[index]["body"]["messages"][1:]]

    await send_message(tab_a, "one from A", client_id="a1")
    await frames_until(tab_a, "message_end")
    await send_message(tab_a, "two from A", client_id="a2")
    await frames_until(tab_a, "message_end")
    assert prompt(1) == [("user", "one from A"), ("assistant", "Sure."), ("user", "two from A")]
    await frames_until(tab_b, "sync")  # tab B hears of A's messages
    await send_message(tab_b, "three from B", client_id="b1")
    await frames_until(tab_b, "message_end")
    assert prompt(2) == [("user", "one from A"), ("assistant", "Sure."), ("user", "two from A"),
                         ("assistant", "Sure."), ("user", "three from B")]
    for _ in range(2):  # B's message and B's reply reach tab A
        assert (await frames_until(tab_a, "sync"))[-1]["messages"][0]["text"] in ("three from B", "Sure.")
    await send_message(tab_a, "four from A", client_id="a3")
    await frames_until(tab_a, "message_end")
    assert prompt(3)[-3:] == [("user", "three from B"), ("assistant", "Sure."), ("user", "four from A")]
    conversation = await database_sync_to_async(Conversation.objects.get)(user=adult)
    await database_sync_to_async(Message.objects.create)(conversation=conversation, author=Author.OPERATOR,
                                                         text="an operator wrote this")
    await send_message(tab_a, "five from A", client_id="a4")
    await frames_until(tab_a, "message_end")
    assert prompt(4)[-4:] == [("user", "four from A"), ("assistant", "Sure."),
                              ("assistant", "an operator wrote this"), ("user", "five from A")]
    await send_message(tab_a, "six from A", client_id="a5")
    await frames_until(tab_a, "message_end")
    assert prompt(5)[-3:] == [("user", "five from A"), ("assistant", "Sure."), ("user", "six from A")]
    assert prompt(5)[:-2] == prompt(4)[len(prompt(4)) - len(prompt(5)) + 2:]
    await tab_a.disconnect()
    await tab_b.disconnect()


async def test_model_failure_gives_an_error_frame_and_a_failed_reply(adult, fake_openai):
    fake_openai.scripts.append(Script(status=500))
    communicator, _, _ = await join(adult)
    await send_message(communicator, "Hello?")
    frames = await frames_until(communicator, "message_end")
    assert any(f["type"] == "error" and f["code"] == "llm_unavailable" for f in frames)
    assert frames[-1]["status"] == "failed"
    assert (await stored(author=Author.AI))[0].status == MessageStatus.FAILED
    await communicator.disconnect()


async def test_cancel_closes_the_upstream_model_stream(adult, fake_openai):
    fake_openai.scripts.append(Script(chunks=["one "] * 50, delay=0.1))
    communicator, _, _ = await join(adult)
    await send_message(communicator, "Count slowly")
    await frames_until(communicator, "message_delta")
    await communicator.send_json_to({"type": "cancel"})
    frames = await frames_until(communicator, "message_end")
    assert frames[-1]["status"] == "cancelled"
    assert await asyncio.to_thread(fake_openai.disconnected_by_client.wait, 3)
    await communicator.disconnect()


async def test_while_waiting_for_a_human_no_ai_text_and_exit_still_works(adult, fake_openai):
    communicator, ready, _ = await join(adult)
    def open_case():
        conversation = Conversation.objects.get(public_id=ready["conversation"])
        conversation.mode = Mode.WAITING
        conversation.save()
        CrisisCase.objects.create(user=adult, conversation=conversation, level="crisis",
                                  sla_deadline=timezone.now() + dt.timedelta(minutes=5))

    await database_sync_to_async(open_case)()
    await communicator.disconnect()
    communicator, ready, _ = await join(adult)
    assert ready["mode"] == "waiting"
    assert (await communicator.receive_json_from())["type"] == "crisis"  # the card follows the user
    await send_message(communicator, "is anyone there?")
    assert (await communicator.receive_json_from())["type"] == "message_ack"
    assert await communicator.receive_nothing(timeout=0.3)  # BX-03: no AI text while a human is awaited
    assert fake_openai.requests == []
    await communicator.send_json_to({"type": "exit"})  # CN-USE-03: exit works during a takeover wait
    assert (await frames_until(communicator, "closed"))[-1]["reason"] == "exit"


async def test_an_idle_socket_survives_the_channel_layers_blocking_reads(adult, settings):
    """On Redis, the layer's blocking pop lasts 5 s; reads must not time out at the same moment."""
    if not settings.REDIS_URL:
        pytest.skip("needs the Redis channel layer (CI runs it)")
    communicator, _, _ = await join(adult)
    for _ in range(3):
        assert await communicator.receive_nothing(timeout=5.5)
    await send_message(communicator, "still there?")
    assert (await frames_until(communicator, "message_end"))[0]["type"] == "message_ack"
    await communicator.disconnect()


async def test_the_ai_never_speaks_first(adult):
    """BX-12: every AI message answers a user message; opening, reconnecting and idling produce none."""
    communicator, _, _ = await join(adult)
    await communicator.send_json_to({"type": "heartbeat"})
    assert await communicator.receive_nothing(timeout=0.3)
    await send_message(communicator, "hello there")
    await frames_until(communicator, "message_end")
    await communicator.disconnect()
    communicator, _, _ = await join(adult)  # a return visit: no "I missed you"
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()
    ai = await stored(author=Author.AI)
    assert len(ai) == 1 and all(message.reply_to_id is not None for message in ai)
