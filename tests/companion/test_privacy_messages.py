"""CN-DAT-05: deleting a single message from the privacy centre, through the real pages, services,
export task and chat socket. The canary planted in one message is gone from every table, copy,
cache and the chat history once that message is deleted, and the rest of the conversation stays."""
import io
import json
import zipfile

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts.models import AuditEvent
from companion.complaints import file_complaint
from companion.models import (Author, CaseStatus, Conversation, CrisisCase, DataExport, Message,
                              MessageStatus)
from companion.sanctions import case_prefill
from companion.services import finish_reply, open_chat, post_user_message
from tests.companion.test_privacy import CANARY, canary_places
from tests.fixtures import UserFactory, client_for, join

pytestmark = pytest.mark.django_db(transaction=True)  # durable services, and the export task runs on commit


def converse(user, text: str, *, slug: str = "friend", client_id: str = "c1", reply: str | None = None):
    """One exchange as the chat makes it: the user's message through the services, and the AI reply
    it planned finished with `reply` (default "AI says <text>"). Returns (conversation, message, reply)."""
    opening = open_chat(user=user, character_slug=slug, session_key="test-session", language=user.language)
    posted = post_user_message(user=user, conversation_id=opening.conversation.pk, text=text, client_id=client_id,
                               language=user.language)
    assert posted.reply is not None
    finished = finish_reply(reply_id=posted.reply.reply_id, text=reply or f"AI says {text}",
                            status=MessageStatus.COMPLETE, language=user.language)
    return opening.conversation, posted.message, finished.message


def page_url(conversation: Conversation) -> str:
    return reverse("privacy_conversation", args=[conversation.public_id])


def delete_url(message: Message) -> str:
    return reverse("privacy_delete_message", args=[message.public_id])


def test_the_owner_sees_the_labelled_messages_and_deletes_one(demo):
    user = UserFactory()
    conversation, question, answer = converse(user, "Tell me about the stars")
    operator = UserFactory()
    operator.groups.add(Group.objects.get_or_create(name="operator")[0])
    staff_note = Message.objects.create(conversation=conversation, author=Author.OPERATOR, text="I am here to help",
                                        sent_by=operator)
    client = client_for(user)

    listing = client.get(reverse("privacy_data")).content.decode()
    assert page_url(conversation) in listing and "View and delete messages" in listing
    page = client.get(page_url(conversation))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="message-list"' in html and html.count('data-testid="message-delete"') == 3
    for message in (question, answer, staff_note):
        assert f'data-message-id="{message.public_id}"' in html and delete_url(message) in html
    assert "AI-generated" in html  # the AI reply keeps its label (CN-DIS-04)
    assert f"Safety team member {operator.pk:04d} (human)" in html  # the operator's message says it is human

    response = client.post(delete_url(question))
    assert response.status_code == 302 and response["Location"] == page_url(conversation)
    assert not Message.objects.filter(pk=question.pk).exists()
    answer.refresh_from_db()
    assert answer.reply_to_id is None  # only what was chosen goes: the reply stays, detached
    assert list(conversation.messages.values_list("pk", flat=True)) == [answer.pk, staff_note.pk]
    after = client.get(response["Location"]).content.decode()
    assert "Message deleted." in after and f'data-message-id="{question.public_id}"' not in after

    client.post(delete_url(answer))  # an AI reply may be deleted too
    assert list(conversation.messages.all()) == [staff_note]
    event = AuditEvent.objects.filter(action="data.message_deleted", actor_id=user.pk).order_by("id").first()
    assert event.subject_type == "message" and event.subject_id == str(question.public_id)
    assert event.data == {"conversation": str(conversation.public_id), "exports": 0}  # ids and counts, no text
    assert "stars" not in json.dumps(event.data)


def test_someone_elses_conversation_and_message_are_not_found(demo):
    owner, other = UserFactory(), UserFactory()
    conversation, question, _answer = converse(owner, "Mine only")
    client = client_for(other)
    assert client.get(page_url(conversation)).status_code == 404
    assert client.post(delete_url(question)).status_code == 404
    missing = Message(public_id="00000000-0000-4000-8000-000000000000")
    assert client.post(delete_url(missing)).status_code == 404  # same answer as "not yours"
    assert Message.objects.filter(pk=question.pk).exists()
    assert not AuditEvent.objects.filter(action="data.message_deleted").exists()
    anonymous = client_for(None)
    assert anonymous.get(page_url(conversation)).status_code == 302  # to the sign-in page
    assert anonymous.post(delete_url(question)).status_code == 302
    assert Message.objects.filter(pk=question.pk).exists()


def test_deleting_needs_a_post_with_the_csrf_token(demo):
    user = UserFactory()
    _conversation, question, _answer = converse(user, "Keep me")
    client = client_for(user)
    assert client.get(delete_url(question)).status_code == 405
    strict = client_for(user)
    strict.handler.enforce_csrf_checks = True
    assert strict.post(delete_url(question)).status_code == 403
    assert Message.objects.filter(pk=question.pk).exists()


def test_nothing_is_deleted_while_a_safety_case_is_open(demo):
    user = UserFactory()
    conversation, question, answer = converse(user, "A hard day")
    CrisisCase.objects.create(user=user, conversation=conversation, level="crisis", sla_deadline=conversation.created_at)
    client = client_for(user)
    response = client.post(delete_url(question), follow=True)
    assert response.redirect_chain[-1][0] == page_url(conversation)
    assert "Our safety team is still looking after you, so nothing can be deleted right now" in response.content.decode()
    assert Message.objects.filter(pk__in=[question.pk, answer.pk]).count() == 2
    assert not AuditEvent.objects.filter(action="data.message_deleted").exists()


def test_a_reply_still_being_written_is_not_deleted(demo):
    user = UserFactory()
    opening = open_chat(user=user, character_slug="friend", session_key="s", language="en")
    posted = post_user_message(user=user, conversation_id=opening.conversation.pk, text="Hello", client_id="c1",
                               language="en")
    streaming = Message.objects.get(pk=posted.reply.reply_id)
    client = client_for(user)
    page = client.get(page_url(opening.conversation)).content.decode()
    assert page.count('data-testid="message-delete"') == 1 and "Still being written" in page
    response = client.post(delete_url(streaming), follow=True)
    assert "still being written" in response.content.decode()
    assert Message.objects.filter(pk=streaming.pk).exists()


def test_a_case_trigger_and_a_complained_about_reply_can_be_deleted(demo):
    user = UserFactory()
    conversation, question, answer = converse(user, "Something that worried me")
    case = CrisisCase.objects.create(user=user, conversation=conversation, trigger=question, level="high_risk",
                                     status=CaseStatus.RESOLVED, sla_deadline=conversation.created_at)
    complaint = file_complaint(user=user, kind="complaint", target="reply", category="harmful_reply",
                               text="This reply was unkind", message_id=str(answer.public_id), language="en")
    client = client_for(user)
    client.post(delete_url(question))
    client.post(delete_url(answer))
    case.refresh_from_db()
    complaint.refresh_from_db()
    assert case.trigger is None and case.status == CaseStatus.RESOLVED  # the case record stays
    assert complaint.message is None and complaint.text == "This reply was unkind"  # so does the complaint
    assert case_prefill(str(case.public_id)) == {"case": str(case.public_id), "evidence": str(case.public_id)}
    officer = UserFactory()
    officer.groups.add(Group.objects.get_or_create(name="compliance")[0])
    staff_page = client_for(officer).get(reverse("complaint_staff_detail", args=[complaint.public_id]))
    assert staff_page.status_code == 200 and 'data-testid="complained-message"' not in staff_page.content.decode()
    assert client.get(reverse("complaint_status", args=[complaint.public_id])).status_code == 200
    assert client.get(reverse("privacy_data")).status_code == 200
    assert client.get(page_url(conversation)).status_code == 200


def _archive_text(client) -> str:
    """Prepare a new copy through the page and return everything in it, decoded."""
    client.post(reverse("privacy_export"))
    export = DataExport.objects.latest("created_at")
    response = client.get(reverse("privacy_export_download", args=[export.public_id]))
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return "".join(archive.read(name).decode() for name in archive.namelist())


async def _history(user) -> list[dict]:
    communicator, ready, _reminders = await join(user)
    await communicator.disconnect()
    return ready["history"]


async def test_the_canary_is_gone_from_the_database_the_copies_and_the_chat_history(demo):
    user = await database_sync_to_async(UserFactory)()
    conversation, secret, answer = await database_sync_to_async(converse)(
        user, f"my secret word is {CANARY}", reply="Thank you for telling me.")
    await database_sync_to_async(converse)(user, "What a nice evening", client_id="c2")
    client = await database_sync_to_async(client_for)(user)

    assert CANARY in await database_sync_to_async(_archive_text)(client)  # a prepared copy holds it
    assert any(CANARY in item["text"] for item in await _history(user))
    assert "data export archive" in await database_sync_to_async(canary_places)()

    response = await database_sync_to_async(client.post)(delete_url(secret))
    assert response.status_code == 302

    def stored():
        texts = [message.text for message in Message.objects.filter(conversation__user=user)]  # decrypted
        return texts, DataExport.objects.filter(user=user).count(), canary_places()
    texts, exports, places = await database_sync_to_async(stored)()
    assert not any(CANARY in text for text in texts) and "Thank you for telling me." in texts
    assert exports == 0  # the copy that held it is gone
    assert places == []  # no table (plain or decrypted), copy or cache
    history = await _history(user)
    assert [item["id"] for item in history if item["id"] == str(secret.public_id)] == []
    assert not any(CANARY in json.dumps(item) for item in history)
    assert any(item["text"] == "What a nice evening" for item in history)  # the rest of the chat stays
    fresh = await database_sync_to_async(_archive_text)(client)
    assert CANARY not in fresh and "What a nice evening" in fresh and str(conversation.public_id) in fresh
    event = await database_sync_to_async(AuditEvent.objects.get)(action="data.message_deleted")
    assert CANARY not in json.dumps(event.data) and event.data["exports"] == 1


def test_the_page_speaks_chinese(demo):
    user = UserFactory(language="zh-hans")
    conversation, _question, _answer = converse(user, "你好，今天天气不错")
    client = client_for(user, "zh-hans")
    assert "查看和删除消息" in client.get(reverse("privacy_data")).content.decode()
    page = client.get(page_url(conversation)).content.decode()
    name = conversation.character.name_zh
    assert f"你与{name}的对话" in page and "返回你的数据" in page and "AI生成" in page and "删除" in page
    assert 'data-testid="message-list"' in page
