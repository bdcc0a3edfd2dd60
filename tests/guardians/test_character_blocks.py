"""CN-MIN-09: a guardian blocks (and allows again) specific characters for a linked minor, in the guardian
portal; the character disappears for the child at once, its chat page answers 403 saying why, an open
chat with it ends with `closed: blocked`, and every change is audited."""
import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext

from accounts.models import AuditEvent, User
from guardians.models import CharacterBlock, Contact, ContactKind
from guardians.selectors import blocked_slugs
from tests.fixtures import client_for, join, open_socket
from tests.guardians.conftest import make_guardian_account, make_user

pytestmark = pytest.mark.django_db(transaction=True)

EXPLANATION = "Your guardian has turned this character off. They can turn it on again in the guardian portal."
NOTICE = "Your guardian has turned this character off."


def speaking(client, language: str):
    """Signed-in pages follow the account's language unless the person picked one (the cookie)."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def in_language(msgid: str, language: str) -> str:
    with translation.override(language):
        return gettext(msgid)


def set_block(client, contact: Contact, slug: str, action: str):
    return client.post(f"/guardian/wards/{contact.pk}/characters/", {"character": slug, "action": action})


def listed(client) -> set[str]:
    page = client.get("/").content.decode()
    return {slug for slug in ("friend", "mentor", "study-buddy", "storyteller", "partner", "family")
            if f'data-slug="{slug}"' in page}


def ward_of(username: str) -> Contact:
    return Contact.objects.get(user__username=username, kind=ContactKind.GUARDIAN, active=True)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_after_blocking_storyteller_minor13_gets_403_there_and_no_longer_sees_it(demo, language):
    """The catalog's acceptance check, with the demo accounts: `guardian` blocks `storyteller` for
    `minor13`; then allows it again."""
    guardian = speaking(client_for(User.objects.get(username="guardian")), language)
    child = speaking(client_for(User.objects.get(username="minor13")), language)
    sibling = client_for(User.objects.get(username="minor16"))
    contact = ward_of("minor13")
    assert "storyteller" in listed(child) and child.get("/chat/storyteller/").status_code == 200

    portal = guardian.get("/guardian/").content.decode()
    section = portal.split(f'id="ward-{contact.pk}"')[1].split("</section>")[0]
    assert 'data-character="storyteller" data-blocked="no"' in section
    assert 'data-character="partner"' not in section  # never open to minors: nothing to turn off
    assert in_language("Characters %(name)s can use", language).split("%(")[0] in section

    assert set_block(guardian, contact, "storyteller", "block")["Location"] == f"/guardian/#ward-{contact.pk}"
    assert listed(child) == {"friend", "mentor", "study-buddy"}
    page = child.get("/chat/storyteller/")
    assert page.status_code == 403
    assert 'data-testid="character-blocked"' in page.content.decode()
    assert in_language(EXPLANATION, language) in page.content.decode()
    assert child.get("/chat/friend/").status_code == 200
    assert child.get("/chat/partner/").status_code == 404  # adult-only stays "not found", not "blocked"
    assert "storyteller" in listed(sibling)  # the block is per minor
    portal = guardian.get("/guardian/").content.decode()
    assert 'data-character="storyteller" data-blocked="yes"' in portal.split(f'id="ward-{contact.pk}"')[1]

    set_block(guardian, contact, "storyteller", "allow")
    assert "storyteller" in listed(child) and child.get("/chat/storyteller/").status_code == 200
    events = AuditEvent.objects.filter(subject_type="contact", subject_id=str(contact.pk),
                                       action__startswith="guardian.character_").order_by("id")
    guardian_id = User.objects.get(username="guardian").pk
    assert [(event.action, event.actor_id, event.data) for event in events] == [
        ("guardian.character_blocked", guardian_id, {"user": contact.user_id, "character": "storyteller"}),
        ("guardian.character_allowed", guardian_id, {"user": contact.user_id, "character": "storyteller"}),
    ]


async def test_an_open_chat_with_the_blocked_character_ends_at_once_and_others_stay_open(demo):
    child = await database_sync_to_async(make_user)(13, contacts=True, language="en")
    guardian = await database_sync_to_async(lambda: client_for(User.objects.get(username=f"{child.username}-guardian")))()
    contact = await database_sync_to_async(Contact.objects.get)(user=child)
    story, _, _ = await join(child, "storyteller")
    friend, _, _ = await join(child, "friend")

    blocked = await database_sync_to_async(set_block)(guardian, contact, "storyteller", "block")
    assert blocked.status_code == 302
    assert await story.receive_json_from(timeout=5) == {"type": "notice", "kind": "guardian_block", "text": NOTICE}
    assert await story.receive_json_from(timeout=5) == {"type": "closed", "reason": "blocked"}
    assert await story.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}

    # The chat with `friend` heard the same event and is still live: the next frame answers this one.
    await friend.send_json_to({"type": "no-such-frame"})
    assert (await friend.receive_json_from(timeout=5))["code"] == "unknown_type"

    again, connected, _ = await open_socket(child, "storyteller")  # reconnecting is refused, with the reason
    assert connected
    assert await again.receive_json_from(timeout=5) == {"type": "notice", "kind": "guardian_block", "text": NOTICE}
    assert await again.receive_json_from(timeout=5) == {"type": "closed", "reason": "blocked"}
    assert (await again.receive_output(timeout=5))["code"] == 4403

    await database_sync_to_async(set_block)(guardian, contact, "storyteller", "allow")
    back, _, _ = await join(child, "storyteller")
    await back.disconnect()
    await friend.disconnect()


async def test_the_notice_on_the_socket_is_in_the_chats_language(demo):
    child = await database_sync_to_async(make_user)(15, contacts=True, language="zh-hans")
    contact = await database_sync_to_async(Contact.objects.get)(user=child)
    story, _, _ = await join(child, "storyteller")
    await database_sync_to_async(lambda: set_block(client_for(contact.account), contact, "storyteller", "block"))()
    notice = await story.receive_json_from(timeout=5)
    assert notice["kind"] == "guardian_block" and notice["text"] == in_language(NOTICE, "zh-hans") != NOTICE
    assert await story.receive_json_from(timeout=5) == {"type": "closed", "reason": "blocked"}
    await story.disconnect()


def test_only_the_linked_guardian_can_block_or_allow(demo):
    child = make_user(13, contacts=True)
    contact = Contact.objects.get(user=child)
    stranger_guardian = client_for(make_guardian_account())
    assert set_block(stranger_guardian, contact, "storyteller", "block").status_code == 404
    assert set_block(client_for(make_user(30)), contact, "storyteller", "block").status_code == 403
    assert set_block(client_for(child), contact, "storyteller", "block").status_code == 403
    assert client_for().post(f"/guardian/wards/{contact.pk}/characters/",
                             {"character": "storyteller", "action": "block"}).status_code == 302  # sign in first
    guardian = client_for(contact.account)
    assert guardian.get(f"/guardian/wards/{contact.pk}/characters/").status_code == 405
    for slug, action in (("partner", "block"), ("nobody", "block"), ("storyteller", "hide")):
        assert set_block(guardian, contact, slug, action).status_code == 404
    assert not CharacterBlock.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="guardian.character_").exists()

    contact.active = False  # a replaced guardian contact gives its account no say any more
    contact.save(update_fields=["active"])
    assert set_block(guardian, contact, "storyteller", "block").status_code == 404


def test_blocking_and_allowing_twice_changes_and_audits_once(demo):
    child = make_user(16, contacts=True)
    contact = Contact.objects.get(user=child)
    guardian = client_for(contact.account)
    for _ in range(2):
        set_block(guardian, contact, "mentor", "block")
    assert blocked_slugs(child) == {"mentor"}
    for _ in range(2):
        set_block(guardian, contact, "mentor", "allow")
    assert blocked_slugs(child) == set()
    actions = list(AuditEvent.objects.filter(subject_id=str(contact.pk), action__startswith="guardian.character_")
                   .order_by("id").values_list("action", flat=True))
    assert actions == ["guardian.character_blocked", "guardian.character_allowed"]


def test_blocks_bind_only_the_minor_of_the_active_guardian_contact(demo):
    child = make_user(13, contacts=True)
    contact = Contact.objects.get(user=child)
    set_block(client_for(contact.account), contact, "storyteller", "block")
    assert blocked_slugs(child) == {"storyteller"}
    Contact.objects.filter(pk=contact.pk).update(active=False)  # the guardian was replaced
    assert blocked_slugs(child) == set()
