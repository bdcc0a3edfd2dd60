"""CN-DAT-01: chat content is encrypted at rest; a database dump holds no plaintext."""
import os
import shutil
import subprocess

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from accounts import fields
from companion.models import Author, Conversation, Message
from companion.services import finish_reply, open_chat, post_user_message
from tests.fixtures import UserFactory

CANARY = "canary-7f3e-蓝色大象在跳舞"


@pytest.fixture
def keys(settings):
    """Swap FIELD_ENCRYPTION_KEYS for the test; the cipher is cached, so rebuild it around the test."""
    def use(*keys):
        settings.FIELD_ENCRYPTION_KEYS = list(keys)
        fields.field_cipher.cache_clear()
    yield use
    fields.field_cipher.cache_clear()


def every_stored_value() -> str:
    """Everything in every table of the database, as text: what a dump would contain."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


@pytest.fixture
def chat(demo):
    user = UserFactory()
    opening = open_chat(user=user, character_slug="friend", session_key="session", language="en")
    posted = post_user_message(user=user, conversation_id=opening.conversation.pk, text=f"my secret {CANARY}",
                               client_id="c1", language="en")
    finish_reply(reply_id=posted.reply.reply_id, text=f"I will keep {CANARY} safe", status="complete")
    return user, opening.conversation


@pytest.mark.django_db
def test_message_text_round_trips_but_is_ciphertext_in_the_table(chat):
    user, conversation = chat
    assert [m.text for m in Message.objects.filter(conversation=conversation)] == [
        f"my secret {CANARY}", f"I will keep {CANARY} safe"]
    dump = every_stored_value()
    assert "my secret" not in dump and CANARY not in dump
    assert "gAAAA" in dump  # Fernet tokens


@pytest.mark.django_db(transaction=True)
def test_pg_dump_contains_no_plaintext(chat):
    if connection.vendor != "postgresql":
        pytest.skip("pg_dump applies to PostgreSQL (CI runs this on PostgreSQL)")
    if shutil.which("pg_dump") is None:
        pytest.fail("pg_dump is not installed")
    params = connection.get_connection_params()
    env = {**os.environ, "PGPASSWORD": str(params.get("password") or "")}
    dump = subprocess.run(
        ["pg_dump", "-h", str(params.get("host") or "127.0.0.1"), "-p", str(params.get("port") or 5432),
         "-U", params.get("user") or "postgres", "--data-only", params["dbname"]],
        capture_output=True, text=True, env=env, check=True).stdout
    assert "gAAAA" in dump
    assert CANARY not in dump and "my secret" not in dump


@pytest.mark.django_db
def test_key_rotation_keeps_every_message_readable(chat, keys, settings):
    user, conversation = chat
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    keys(new_key, old_key)
    call_command("rotate_field_keys", verbosity=0)
    keys(new_key)  # the old key is gone: only rotated tokens can still be read
    assert [m.text for m in Message.objects.filter(conversation=conversation)][0] == f"my secret {CANARY}"


@pytest.mark.django_db
def test_a_wrong_key_fails_loudly(chat, keys):
    keys(Fernet.generate_key().decode())
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        list(Message.objects.all())


@pytest.mark.django_db
def test_stored_ai_reply_carries_implicit_label(chat):
    user, conversation = chat
    reply = Message.objects.get(conversation=conversation, author=Author.AI)
    assert reply.aigc["Label"] == "1" and reply.aigc["ProduceID"] == str(reply.public_id)
    assert reply.aigc["ContentProducer"] and reply.aigc["ServiceName"]
    assert Conversation.objects.filter(user=user).count() == 1
