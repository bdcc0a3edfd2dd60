"""CN-DAT-06: the training extract holds only consenting adults, re-checked at extraction,
pseudonymised, with a manifest that matches the file."""
import datetime as dt
import hashlib
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from accounts.consents import update_consents
from accounts.models import AuditEvent
from companion.models import Author, Character, Conversation, CrisisCase, Message
from tests.fixtures import UserFactory

pytestmark = pytest.mark.django_db


def chat(user, text: str, reply: str = "Thanks for telling me.") -> Conversation:
    conversation = Conversation.objects.create(user=user, character=Character.objects.get(slug="friend"))
    question = Message.objects.create(conversation=conversation, author=Author.USER, text=text, client_id="q")
    Message.objects.create(conversation=conversation, author=Author.AI, text=reply, reply_to=question)
    Message.objects.create(conversation=conversation, author=Author.OPERATOR, text="operator line 0042")
    return conversation


def opt_in(user):
    update_consents(user=user, granted={"training": True}, source="privacy_centre")


def extract(tmp_path) -> tuple[list[dict], dict]:
    call_command("export_training_data", "--output", str(tmp_path))
    lines = (tmp_path / "conversations.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines], json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))


def test_only_consenting_adults_appear_and_withdrawal_is_honoured_at_extraction(demo, tmp_path, settings):
    base = extract(tmp_path / "before")[1]["counts"]  # the demo data's own opt-in (`adult`, no chats)
    tmp_path = tmp_path / "after"
    adult, withdrawn, never = UserFactory(username="ada"), UserFactory(username="wil"), UserFactory(username="nev")
    minor = UserFactory(username="min", birth_date=timezone.localdate() - dt.timedelta(days=365 * 15 + 10))
    crisis = UserFactory(username="cri")
    suspected = UserFactory(username="sus", minor_mode_since=timezone.now())  # CN-MIN-05, CN-MIN-13
    for user in (adult, withdrawn, minor, crisis, suspected):
        opt_in(user)
    update_consents(user=withdrawn, granted={"training": False}, source="privacy_centre")
    chat(adult, "I felt lonely today; mail me at ada@example.com or call 13800138000.")
    chat(withdrawn, "withdrawn-canary")
    chat(never, "never-canary")
    chat(minor, "minor-canary")
    chat(suspected, "suspected-canary")
    crisis_conversation = chat(crisis, "crisis-canary")
    CrisisCase.objects.create(user=crisis, conversation=crisis_conversation, level="crisis",
                              sla_deadline=timezone.now())

    rows, manifest = extract(tmp_path)
    text = (tmp_path / "conversations.jsonl").read_text(encoding="utf-8")
    for canary in ("withdrawn-canary", "never-canary", "minor-canary", "suspected-canary", "crisis-canary", "operator line 0042",
                   "ada@example.com", "13800138000", "ada", str(adult.pk) + '"'):
        assert canary not in text, canary
    assert len(rows) == 1
    assert [turn["role"] for turn in rows[0]["turns"]] == ["user", "assistant"]
    assert "[email]" in rows[0]["turns"][0]["text"] and "[phone]" in rows[0]["turns"][0]["text"]
    counts = manifest["counts"]
    assert counts["users_included"] - base["users_included"] == 2  # ada and cri...
    assert counts["conversations"] == 1  # ...but the crisis user's chat is left out
    assert counts["excluded"]["minor"] == 2 and counts["excluded"]["no_consent"] - base["excluded"]["no_consent"] == 1
    assert counts["conversations_with_crisis_cases"] == 1
    assert manifest["files"]["conversations.jsonl"]["sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert manifest["consent_version"] == settings.ACCOUNTS_POLICY_VERSIONS["training"]
    assert AuditEvent.objects.filter(action="data.training_exported").count() == 2


def test_a_new_training_policy_version_empties_the_extract_until_people_consent_again(demo, tmp_path, settings):
    user = UserFactory()
    opt_in(user)
    chat(user, "hello there")
    rows, manifest = extract(tmp_path / "a")
    assert len(rows) == 1 and manifest["counts"]["excluded"]["no_consent"] == 0
    settings.ACCOUNTS_POLICY_VERSIONS = {**settings.ACCOUNTS_POLICY_VERSIONS, "training": "2027-03-01"}
    rows, manifest = extract(tmp_path / "b")
    assert rows == [] and manifest["counts"]["users_included"] == 0


def test_a_bad_date_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("export_training_data", "--output", str(tmp_path), "--since", "last week")
