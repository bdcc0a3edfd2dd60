"""Issue #7: conversation exports keep explicit and implicit AI labels (CN-DIS-04, CN-DIS-05, CN-DIS-06, EU-02)."""
import json
import re
import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from accounts.models import User
from companion.exports import (conversation_export, export_from_html, label_problems, messages_hmac,
                               render_export_html)
from companion.models import Author, Character, Conversation, Message
from companion.services import exit_chat, finish_reply, open_chat, post_user_message
from tests.fixtures import UserFactory

pytestmark = pytest.mark.django_db

USER_TEXT = 'Tell me about <b>cats</b> & "dogs"'
AI_TEXT = "Cats purr <script>alert(1)</script> & dogs bark.\nA second line."


def start_chat(user: User, *, language: str = "en", finish: bool = True) -> tuple[Conversation, Message | None]:
    """A conversation built by the real services: one user message and, with `finish`, its AI reply."""
    opening = open_chat(user=user, character_slug="friend", session_key="s", language=language)
    posted = post_user_message(user=user, conversation_id=opening.conversation.pk, text=USER_TEXT, client_id="c1",
                               language=language)
    reply = finish_reply(reply_id=posted.reply.reply_id, text=AI_TEXT, status="complete").message if finish else None
    return opening.conversation, reply


@pytest.fixture
def chat(demo, client):
    user = UserFactory()
    conversation, reply = start_chat(user)
    client.force_login(user)
    return user, conversation, reply


def verify(*paths) -> str:
    out = StringIO()
    call_command("verify_labels", *map(str, paths), stdout=out)
    return out.getvalue()


def ai_items(html: str) -> list[str]:
    return re.findall(r'<li [^>]*data-author="ai".*?</li>', html, re.S)


def test_json_export_has_every_message_with_labels_and_aigc(chat, client, settings):
    user, conversation, reply = chat
    response = client.get("/chat/friend/export.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="haven-friend-{timezone.localdate().isoformat()}.json"')
    assert "no-store" in response["Cache-Control"]
    export = json.loads(response.content)
    assert export["format"] == "haven.conversation.v1" and export["service"] == "Haven"
    assert export["language"] == "en"
    assert export["conversation"] == {"id": str(conversation.public_id),
                                      "character": {"slug": "friend", "name": "Sunny"},
                                      "created_at": conversation.created_at.isoformat()}
    stored = list(Message.objects.filter(conversation=conversation))
    assert [item["id"] for item in export["messages"]] == [str(m.public_id) for m in stored]  # CN-DAT-04
    user_item, ai_item = export["messages"]
    assert user_item == {"id": user_item["id"], "author": "user", "label": "You", "text": USER_TEXT,
                         "status": "complete", "created_at": stored[0].created_at.isoformat()}
    assert ai_item["author"] == "ai" and ai_item["label"] == "AI-generated" and ai_item["text"] == AI_TEXT
    assert ai_item["aigc"] == reply.aigc and ai_item["aigc"]["ProduceID"] == str(reply.public_id)
    file_label = export["AIGC"]
    assert file_label["Label"] == "1"
    assert file_label["ContentProducer"] == file_label["ContentPropagator"] == settings.COMPANION_PROVIDER_CODE
    assert uuid.UUID(file_label["ProduceID"]) and file_label["PropagateID"] == file_label["ProduceID"]
    assert file_label["ReservedCode1"] == messages_hmac(export["messages"]) and file_label["ReservedCode2"] == ""
    assert file_label["ProduceID"] != json.loads(client.get("/chat/friend/export.json").content)["AIGC"]["ProduceID"]


def test_html_export_has_meta_label_and_a_label_before_each_ai_text(chat, client):
    user, conversation, reply = chat
    response = client.get("/chat/friend/export.html")
    assert response.status_code == 200 and response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="haven-friend-{timezone.localdate().isoformat()}.html"')
    page = response.content.decode()
    meta = re.search(r'<meta name="AIGC" content="([^"]+)">', page)
    file_label = json.loads(meta.group(1).replace("&quot;", '"'))
    assert file_label["Label"] == "1" and file_label["ProduceID"]
    assert "This file contains AI-generated content from Haven." in page
    items = ai_items(page)
    assert len(items) == 1 and f'data-id="{reply.public_id}"' in items[0] and "data-aigc=" in items[0]
    assert items[0].index('<span class="label">AI-generated</span>') < items[0].index('class="text"')
    assert "<script" not in page and "<link" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;cats&lt;/b&gt;" in page
    extracted = export_from_html(page)
    assert [m["text"] for m in extracted["messages"]] == [USER_TEXT, AI_TEXT]
    assert extracted["messages"][1]["aigc"] == reply.aigc


def test_verifier_passes_both_downloads(chat, client, tmp_path):
    for kind in ("json", "html"):
        (tmp_path / f"export.{kind}").write_bytes(client.get(f"/chat/friend/export.{kind}").content)
    assert verify(tmp_path / "export.json").strip() == "OK: 1 AI messages labelled"
    assert verify(tmp_path / "export.json", tmp_path / "export.html").strip() == "OK: 2 AI messages labelled"


def _strip_json_label(export, ai):
    del ai["label"]


def _strip_json_aigc(export, ai):
    del ai["aigc"]


def _alter_json_text(export, ai):
    ai["text"] = ai["text"].replace("purr", "bite")


def _strip_json_file_label(export, ai):
    del export["AIGC"]


def _pass_ai_off_as_user(export, ai):
    ai["author"] = "user"
    ai["label"] = "You"


def _alter_json_text_and_resign_file(export, ai):
    # The message's own HMAC still catches altered text if the file-level one were recomputed.
    ai["text"] = "Something else entirely."
    export["AIGC"]["ReservedCode1"] = messages_hmac(export["messages"])


@pytest.mark.parametrize("tamper, expected", [
    (_strip_json_label, "message {id}: visible label missing"),
    (_strip_json_aigc, "message {id}: implicit label (aigc) missing"),
    (_alter_json_text, "message {id}: aigc ReservedCode1 does not match the text"),
    (_strip_json_file_label, "file-level AIGC label missing"),
    (_pass_ai_off_as_user, "message {id}: carries an AI label but its author is 'user'"),
    (_alter_json_text_and_resign_file, "message {id}: aigc ReservedCode1 does not match the text"),
])
def test_verifier_rejects_tampered_json(chat, client, tmp_path, tamper, expected):
    user, conversation, reply = chat
    export = json.loads(client.get("/chat/friend/export.json").content)
    tamper(export, export["messages"][1])
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export), encoding="utf-8")
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("verify_labels", str(path), stdout=out)
    assert expected.format(id=reply.public_id) in out.getvalue()


def _strip_html_label(page):
    return re.sub(r'(data-author="ai".*?)<span class="label">[^<]*</span>', r"\1", page, count=1, flags=re.S)


def _hide_html_label(page):
    return page.replace('<span class="label">AI-generated</span>', '<span class="label" hidden>AI-generated</span>')


def _move_html_label_after_text(page):
    label = '<span class="label">AI-generated</span>'
    page = page.replace(label, "", 1)
    return re.sub(r'(data-author="ai".*?<div class="text">.*?</div>)', lambda m: m.group(1) + label, page,
                  count=1, flags=re.S)


def _strip_html_aigc(page):
    return re.sub(r' data-aigc="[^"]*"', "", page)


def _alter_html_text(page):
    return page.replace("Cats purr", "Cats bite")


def _strip_html_meta(page):
    return re.sub(r'<meta name="AIGC"[^>]*>', "", page)


@pytest.mark.parametrize("tamper, expected", [
    (_strip_html_label, "message {id}: visible label missing"),
    (_hide_html_label, "message {id}: visible label missing"),
    (_move_html_label_after_text, "message {id}: visible label missing"),
    (_strip_html_aigc, "message {id}: implicit label (aigc) missing"),
    (_alter_html_text, "message {id}: aigc ReservedCode1 does not match the text"),
    (_strip_html_meta, "file-level AIGC label missing"),
])
def test_verifier_rejects_tampered_html(chat, client, tmp_path, tamper, expected):
    user, conversation, reply = chat
    page = client.get("/chat/friend/export.html").content.decode()
    tampered = tamper(page)
    assert tampered != page
    path = tmp_path / "export.html"
    path.write_text(tampered, encoding="utf-8")
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("verify_labels", str(path), stdout=out)
    assert expected.format(id=reply.public_id) in out.getvalue()


def test_verifier_reports_every_problem_and_unreadable_files(chat, client, tmp_path):
    good = tmp_path / "good.json"
    good.write_bytes(client.get("/chat/friend/export.json").content)
    export = json.loads(good.read_text())
    del export["messages"][1]["label"], export["messages"][1]["aigc"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(export))
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "notes.txt").write_text("hello")
    out = StringIO()
    with pytest.raises(CommandError, match="problem"):
        call_command("verify_labels", str(good), str(bad), str(tmp_path / "broken.json"),
                     str(tmp_path / "notes.txt"), str(tmp_path / "missing.json"), stdout=out)
    lines = out.getvalue().splitlines()
    assert not [line for line in lines if line.startswith(str(good))]
    assert any("visible label missing" in line for line in lines)
    assert any("implicit label (aigc) missing" in line for line in lines)
    assert any(line.startswith(f"{tmp_path / 'broken.json'}: cannot read") for line in lines)
    assert any(line.startswith(f"{tmp_path / 'notes.txt'}: cannot read") for line in lines)
    assert any(line.startswith(f"{tmp_path / 'missing.json'}: cannot read") for line in lines)


def test_no_query_parameter_turns_labels_off(chat, client):
    """CN-DIS-06: the optional "unlabelled on request" path of LBM 9 is not offered."""
    query = "?labels=0&label=false&aigc=0&unlabeled=1&raw=1&format=plain"
    export = json.loads(client.get("/chat/friend/export.json" + query).content)
    assert label_problems(export) == [] and export["messages"][1]["label"] == "AI-generated"
    page = client.get("/chat/friend/export.html" + query).content.decode()
    assert label_problems(export_from_html(page)) == [] and '<meta name="AIGC"' in page


def test_another_user_cannot_reach_the_conversation(chat, client):
    user, conversation, reply = chat
    other = UserFactory()
    client.force_login(other)
    assert client.get("/chat/friend/export.json").status_code == 404  # no conversation of their own yet
    assert client.get("/chat/friend/export.html").status_code == 404
    start_chat(other)
    body = client.get("/chat/friend/export.json").content.decode()
    assert str(conversation.public_id) not in body and str(reply.public_id) not in body


def test_unknown_character_is_404(chat, client):
    assert client.get("/chat/nobody/export.json").status_code == 404
    assert client.get("/chat/nobody/export.html").status_code == 404


def test_minor_cannot_export_an_adult_only_character(demo, client):
    minor = User.objects.get(username="minor13")
    # Even a conversation left over from before (e.g. a corrected birth date) stays out of reach (CN-MIN).
    Conversation.objects.create(user=minor, character=Character.objects.get(slug="partner"))
    client.force_login(minor)
    assert client.get("/chat/partner/export.json").status_code == 404
    assert client.get("/chat/partner/export.html").status_code == 404


@pytest.mark.parametrize("kind", ["json", "html"])
def test_anonymous_is_sent_to_login(demo, client, kind):
    response = client.get(f"/chat/friend/export.{kind}")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_chinese_export_labels_say_ai_generated_in_chinese(demo, client, tmp_path):
    user = UserFactory(language="zh-hans")
    conversation, reply = start_chat(user, language="zh-hans")
    client.force_login(user)
    export = json.loads(client.get("/chat/friend/export.json").content)
    assert export["language"] == "zh-hans"
    assert [item["label"] for item in export["messages"]] == ["你", "AI生成"]
    assert export["conversation"]["character"]["name"] == "小暖"
    page = client.get("/chat/friend/export.html").content.decode()
    assert '<html lang="zh-hans">' in page and '<span class="label">AI生成</span>' in ai_items(page)[0]
    (tmp_path / "zh.json").write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "zh.html").write_text(page, encoding="utf-8")
    assert verify(tmp_path / "zh.json", tmp_path / "zh.html").strip() == "OK: 2 AI messages labelled"


def test_a_reply_still_streaming_is_labelled_in_the_export(demo):
    """A reply without a stored label yet (streaming, or interrupted by a dead server) is labelled anyway."""
    user = UserFactory()
    conversation, _ = start_chat(user, finish=False)
    export = conversation_export(conversation, language="en")
    ai_item = export["messages"][1]
    assert ai_item["status"] == "streaming" and ai_item["aigc"]["Label"] == "1"
    assert label_problems(export) == []
    page = render_export_html(export)
    assert "Being written" in page and label_problems(export_from_html(page)) == []


def test_a_conversation_without_ai_content_is_labelled_as_such(demo):
    user = UserFactory()
    opening = open_chat(user=user, character_slug="friend", session_key="s", language="en")
    exit_chat(user=user, conversation_id=opening.conversation.pk)
    export = conversation_export(opening.conversation, language="en")
    assert [item["author"] for item in export["messages"]] == [Author.SYSTEM]
    assert export["AIGC"]["Label"] == "0" and label_problems(export) == []


def test_chat_page_links_to_both_downloads(chat, client):
    page = client.get("/chat/friend/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'href="/chat/friend/export.json"' in page and "Download conversation (JSON)" in page
    assert 'href="/chat/friend/export.html"' in page and "Download conversation (HTML)" in page
