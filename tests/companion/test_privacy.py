"""The privacy centre's data rights through the real pages and the Celery task (CN-DAT-04, CN-DAT-05,
CN-DAT-09), and BX-10: a canary planted everywhere a person's data lives is gone from every store
after the account is closed."""
import io
import json
import zipfile

import pytest
from django.apps import apps
from django.core.cache import cache
from django.db import connection, models
from django.test import Client
from django.urls import reverse

from accounts.fields import EncryptedTextField, field_cipher
from accounts.models import AuditEvent, User
from companion.complaints import file_complaint
from companion.models import (Author, Character, Conversation, CrisisCase, DataExport, Message, Reminder, Sanction)
from companion.sanctions import impose_sanction
from guardians.models import Contact
from tests.fixtures import UserFactory, client_for

pytestmark = pytest.mark.django_db(transaction=True)  # the export task runs on commit

CANARY = "canary7Q3xZ"


def chat(user, text: str, slug: str = "friend") -> Conversation:
    conversation = Conversation.objects.create(user=user, character=Character.objects.get(slug=slug))
    question = Message.objects.create(conversation=conversation, author=Author.USER, text=text, client_id="q")
    Message.objects.create(conversation=conversation, author=Author.AI, text=f"AI says {text}", reply_to=question)
    return conversation


def download(client) -> zipfile.ZipFile:
    page = client.get(reverse("privacy_data")).content.decode()
    export = DataExport.objects.latest("created_at")
    assert 'data-status="ready"' in page
    response = client.get(reverse("privacy_export_download", args=[export.public_id]))
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(response.content))


@pytest.mark.parametrize("language, title", [("en", "Your data"), ("zh-hans", "你的数据")])
def test_the_copy_holds_every_conversation_with_labels_and_the_rest_of_the_data(demo, language, title):
    user = UserFactory(language=language)
    chat(user, "first chat")
    chat(user, "second chat", slug="mentor")
    Contact.objects.create(user=user, kind="emergency", name="Li Hua", email="li@example.com", language="en")
    client = client_for(user, language)
    assert title in client.get(reverse("privacy_data")).content.decode()
    assert client.post(reverse("privacy_export")).status_code == 302
    archive = download(client)
    names = archive.namelist()
    assert "data.json" in names and "index.html" in names and len([n for n in names if n.startswith("conversations/")]) == 2
    data = json.loads(archive.read("data.json"))
    assert data["profile"]["username"] == user.username and data["contacts"][0]["name"] == "Li Hua"
    assert {c["purpose"] for c in data["consents"]} >= {"terms", "privacy", "sensitive"}
    messages = [m for conversation in data["conversations"] for m in conversation["messages"]]
    ai = [m for m in messages if m["author"] == "ai"]
    assert len(ai) == 2 and all(m["label"] and m["aigc"] for m in ai)  # labels and implicit metadata travel along
    page = archive.read(next(n for n in names if n.startswith("conversations/"))).decode()
    assert "AI says" in page
    assert AuditEvent.objects.filter(action="data.export_downloaded", actor_id=user.pk).exists()


def test_nobody_else_can_download_a_copy(demo):
    owner, other = UserFactory(), UserFactory()
    client_for(owner).post(reverse("privacy_export"))
    export = DataExport.objects.get(user=owner)
    assert client_for(other).get(reverse("privacy_export_download", args=[export.public_id])).status_code == 404
    assert Client().get(reverse("privacy_export_download", args=[export.public_id])).status_code == 302
    raw = bytes(DataExport.objects.get(pk=export.pk).archive)
    assert raw[:2] != b"PK" and field_cipher().decrypt(raw)[:2] == b"PK"  # stored encrypted


def test_deleting_one_conversation_and_then_all(demo):
    user = UserFactory()
    first, second = chat(user, "keep me a moment"), chat(user, "delete me", slug="mentor")
    client = client_for(user)
    client.post(reverse("privacy_delete_conversation", args=[second.public_id]))
    assert list(Conversation.objects.filter(user=user)) == [first]
    assert not Message.objects.filter(conversation_id=second.pk).exists()
    other = chat(UserFactory(), "not yours")
    client.post(reverse("privacy_delete_conversation", args=[other.public_id]))
    assert Conversation.objects.filter(pk=other.pk).exists()
    client.post(reverse("privacy_delete_all"), {"confirm": "nope"})
    assert Conversation.objects.filter(user=user).exists()  # not confirmed: nothing deleted
    client.post(reverse("privacy_delete_all"), {"confirm": "DELETE"})
    assert not Conversation.objects.filter(user=user).exists()
    assert AuditEvent.objects.filter(action="data.conversations_deleted", actor_id=user.pk).exists()


def test_nothing_is_deleted_while_a_safety_case_is_open(demo):
    user = UserFactory()
    conversation = chat(user, "help")
    CrisisCase.objects.create(user=user, conversation=conversation, level="crisis", sla_deadline=conversation.created_at)
    client = client_for(user)
    client.post(reverse("privacy_delete_conversation", args=[conversation.public_id]))
    client.post(reverse("privacy_close_account"), {"password": "correct-horse-battery", "confirm": "DELETE"})
    assert Conversation.objects.filter(pk=conversation.pk).exists() and User.objects.get(pk=user.pk).is_active
    assert "safety team is still looking after you" in client.get(reverse("privacy_data")).content.decode()


def test_closing_needs_the_password(demo):
    user = UserFactory()
    client = client_for(user)
    client.post(reverse("privacy_close_account"), {"password": "wrong", "confirm": "DELETE"})
    assert User.objects.get(pk=user.pk).is_active


# --- BX-10: the canary ----------------------------------------------------------------------------

def _text_columns(model) -> list[str]:
    return [field.column for field in model._meta.concrete_fields
            if isinstance(field, (models.CharField, models.TextField, models.JSONField, models.EmailField))
            and not isinstance(field, EncryptedTextField)]


def canary_places() -> list[str]:
    """Every place the canary still is: plain text columns of every table, decrypted encrypted
    columns and export archives, and the cache (every key and value, locmem or Redis)."""
    found = []
    for model in apps.get_models():
        table = model._meta.db_table
        columns = _text_columns(model)
        if columns:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT {', '.join(connection.ops.quote_name(c) for c in columns)} FROM "
                               f"{connection.ops.quote_name(table)}")
                for row in cursor.fetchall():
                    if any(CANARY in str(value) for value in row):
                        found.append(table)
                        break
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedTextField):
                for value in model._default_manager.values_list(field.name, flat=True):
                    if value and CANARY in value:
                        found.append(f"{table}.{field.name} (encrypted)")
                        break
    for archive in DataExport.objects.exclude(archive=None).values_list("archive", flat=True):
        with zipfile.ZipFile(io.BytesIO(field_cipher().decrypt(bytes(archive)))) as unpacked:
            if any(CANARY.encode() in unpacked.read(name) for name in unpacked.namelist()):
                found.append("data export archive")
    found += _cache_places()
    return found


def _cache_places() -> list[str]:
    backend = cache._cache if hasattr(cache, "_cache") else None
    if isinstance(backend, dict):  # locmem
        return ["cache"] if any(CANARY in str(key) or CANARY.encode() in bytes(value) for key, value in backend.items()) else []
    client = cache._cache.get_client(None)  # Redis
    for key in client.scan_iter("*"):
        value = client.get(key) if client.type(key) == b"string" else b""
        if CANARY.encode() in key or (value and CANARY.encode() in value):
            return [f"redis {key!r}"]
    return []


def test_delete_all_leaves_the_canary_in_no_table_copy_or_cache(demo):
    """CN-DAT-05's check: after "delete all", the canary phrase is nowhere (the account stays)."""
    user = UserFactory()
    chat(user, f"remember {CANARY} for me")
    chat(user, f"and {CANARY} again", slug="mentor")
    client = client_for(user)
    client.post(reverse("privacy_export"))
    assert "data export archive" in canary_places()
    client.post(reverse("privacy_delete_all"), {"confirm": "DELETE"})
    assert canary_places() == []
    assert User.objects.get(pk=user.pk).is_active


def test_closing_the_account_leaves_no_canary_in_any_store(demo, django_capture_on_commit_callbacks):
    user = UserFactory(username=f"user_{CANARY}", email=f"{CANARY}@example.com", first_name=CANARY)
    conversation = chat(user, f"my secret is {CANARY}")
    Contact.objects.create(user=user, kind="emergency", name=f"Contact {CANARY}", email=f"c.{CANARY}@example.com",
                           language="en")
    Reminder.objects.create(user=user, kind="break", key="k", text=f"reminder {CANARY}")
    file_complaint(user=user, kind="complaint", target="service", category="service",
                   text=f"complaint {CANARY}", language="en")
    cache.set(f"session-note-{user.pk}", f"cached {CANARY}", 600)
    client = client_for(user)
    client.post(reverse("privacy_export"))  # a finished copy holds the canary too
    officer = UserFactory()
    officer.groups.add(__import__("django.contrib.auth.models", fromlist=["Group"]).Group.objects.get(name="compliance"))
    with django_capture_on_commit_callbacks(execute=True):
        sanction = impose_sanction(actor=officer, kind="restrict", reason="Spam links", user_id=user.pk,
                                   evidence=[str(Message.objects.filter(conversation=conversation).first().public_id)])
    from companion.sanctions import lift_sanction
    lift_sanction(actor=officer, sanction_id=str(sanction.public_id), reason="Done")
    assert set(canary_places()) >= {"accounts_user", "data export archive"}  # the search finds it while it exists
    cache.delete(f"session-note-{user.pk}")  # our code keeps no chat content in the cache; this plant checks the scan

    response = client.post(reverse("privacy_close_account"), {"password": "correct-horse-battery",
                                                              "confirm": "DELETE"})
    assert response.status_code == 302
    assert canary_places() == []
    stub = User.objects.get(pk=user.pk)
    assert stub.username.startswith("closed-") and not stub.is_active and not stub.has_usable_password()
    assert Sanction.objects.filter(user=stub).exists()  # CN-CRI-09 record kept, pointing at the stub
    assert not Conversation.objects.filter(user=stub).exists() and not Contact.objects.filter(user=stub).exists()
    assert client.get(reverse("privacy_data")).status_code == 302  # signed out
    closed = AuditEvent.objects.get(action="account.closed")
    assert closed.subject_id == str(user.pk) and CANARY not in json.dumps(closed.data)
