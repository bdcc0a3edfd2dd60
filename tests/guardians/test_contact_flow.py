"""Contacts before chat (CN-REG-03), guardian consent (CN-MIN-03, CN-MIN-04), elders' emergency contact
(CN-ELD-01) and contacts told they were named, free to decline (BX-13), through HTTP, the socket, real
email (SMTP sink) and real texts (HTTP SMS gateway)."""
import datetime as dt
import re

import pytest
import time_machine
from channels.db import database_sync_to_async
from django.utils import timezone

from accounts.models import AuditEvent, Role
from accounts.policies import AgeBand
from guardians import invitations, services
from guardians.models import Channel, Contact, ContactKind, Notification, Reason
from guardians.policies import contact_gate
from guardians.selectors import chat_gate
from tests.fixtures import client_for, open_socket
from tests.guardians.conftest import make_guardian_account, make_user

pytestmark = pytest.mark.django_db(transaction=True)

LINK = re.compile(r"http://[^\s]+/contact/(\d+)/([0-9a-f]+)/")


def add(client, capture, *, next_url: str = "", **fields):
    data = {"kind": ContactKind.EMERGENCY, "name": "Zhang Wei", "relationship": "brother",
            "email": "brother@example.net", "phone": "+86 139 1234 5678", "language": "en", **fields}
    url = "/contacts/" + (f"?next={next_url}" if next_url else "")
    with capture(execute=True):
        return client.post(url, data)


def texted(gateway, to: str) -> str:
    return [request["json"]["text"] for request in gateway.requests if request["json"]["to"] == to][-1]


def code_in(text: str) -> str:
    return re.search(r"\b(\d{6})\b", text).group(1)


def gate_reason(client, next_url: str = "/chat/friend/") -> str | None:
    page = client.get(f"/contacts/?next={next_url}").content.decode()
    found = re.search(r'data-testid="contact-gate" data-reason="(\w+)"', page)
    return found.group(1) if found else None


def test_a_named_contact_gets_email_and_text_with_a_link_and_code_that_the_database_never_holds(
        smtp_sink, sms_gateway, django_capture_on_commit_callbacks):
    user = make_user(35, username="lin", first_name="Lin", language="en")
    client = client_for(user)
    response = add(client, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    contact = Contact.objects.get(user=user)
    assert contact.verified_at is None and contact.invited_at is not None

    mail = next(message for message in smtp_sink.messages if message.rcpt_tos == ("brother@example.net",))
    assert "Lin named you as their emergency contact" in mail.message["Subject"]
    link_id, token = LINK.search(mail.text).groups()
    assert int(link_id) == contact.pk and token == invitations.link_token(contact)
    sms = texted(sms_gateway, "+8613912345678")
    code = code_in(sms)
    assert code == invitations.code_for(contact) and code in mail.text
    assert "never send you what they wrote" in mail.text
    # BX-11-style hygiene: the delivery log keeps what was said, without a usable link or code.
    for row in Notification.objects.filter(contact=contact):
        assert row.reason == Reason.INVITATION and token not in row.body and code not in row.body
    assert {row.channel for row in Notification.objects.filter(contact=contact)} == {Channel.EMAIL, Channel.SMS}


def test_an_elder_must_confirm_an_emergency_contact_with_the_texted_code_before_chatting(
        demo, sms_gateway, smtp_sink, django_capture_on_commit_callbacks):
    elder = make_user(72, contacts=False)
    client = client_for(elder)
    assert client.get("/chat/friend/")["Location"] == "/contacts/?next=%2Fchat%2Ffriend%2F"
    assert gate_reason(client) == "emergency_missing"
    add(client, django_capture_on_commit_callbacks, next_url="/chat/friend/")
    contact = Contact.objects.get(user=elder)
    assert gate_reason(client) == "emergency_pending"
    assert client.get("/chat/friend/").status_code == 302

    wrong = client.post(f"/contacts/{contact.pk}/verify/", {f"c{contact.pk}-code": "000000" if
                                                             invitations.code_for(contact) != "000000" else "111111"},
                        follow=True)
    assert "That code is not right. 4 tries left." in wrong.content.decode()
    code = code_in(texted(sms_gateway, "+8613912345678"))
    done = client.post(f"/contacts/{contact.pk}/verify/", {f"c{contact.pk}-code": code, "next": "/chat/friend/"})
    assert done["Location"] == "/contacts/?next=%2Fchat%2Ffriend%2F"
    page = client.get(done["Location"]).content.decode()
    assert 'data-testid="contact-continue"' in page
    assert client.get("/chat/friend/").status_code == 200
    contact.refresh_from_db()
    assert contact.verified_at is not None and contact.code_nonce == ""  # the code is spent
    assert AuditEvent.objects.filter(action="contact.confirmed", subject_id=str(contact.pk)).count() == 1
    again = client.post(f"/contacts/{contact.pk}/verify/", {f"c{contact.pk}-code": code}, follow=True)
    assert "no longer valid" in again.content.decode()


def test_five_wrong_codes_end_the_code_and_a_new_invitation_is_throttled_then_replaces_the_old(
        sms_gateway, smtp_sink, django_capture_on_commit_callbacks):
    elder = make_user(65, contacts=False)
    client = client_for(elder)
    add(client, django_capture_on_commit_callbacks)
    contact = Contact.objects.get(user=elder)
    first_code, first_token = invitations.code_for(contact), invitations.link_token(contact)
    wrong = "123456" if first_code != "123456" else "654321"
    for _ in range(5):
        client.post(f"/contacts/{contact.pk}/verify/", {f"c{contact.pk}-code": wrong})
    page = client.post(f"/contacts/{contact.pk}/verify/", {f"c{contact.pk}-code": first_code}, follow=True)
    assert "no longer valid" in page.content.decode()
    contact.refresh_from_db()
    assert contact.verified_at is None and contact.code_attempts == 5

    refused = client.post(f"/contacts/{contact.pk}/resend/", follow=True).content.decode()
    assert "You can send another in" in refused
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=61)):
        with django_capture_on_commit_callbacks(execute=True):
            client.post(f"/contacts/{contact.pk}/resend/")
        contact.refresh_from_db()
        assert invitations.link_token(contact) != first_token
        assert client_for().get(f"/contact/{contact.pk}/{first_token}/").status_code == 404  # the old link is dead
        code = code_in(texted(sms_gateway, "+8613912345678"))
        client.post(f"/contacts/{contact.pk}/verify/", {f"c{contact.pk}-code": code})
    contact.refresh_from_db()
    assert contact.verified_at is not None


def test_an_emergency_contact_confirms_through_the_link_without_an_account(smtp_sink, sms_gateway,
                                                                           django_capture_on_commit_callbacks):
    elder = make_user(80, contacts=False, first_name="Grandpa Li")
    add(client_for(elder), django_capture_on_commit_callbacks)
    contact = Contact.objects.get(user=elder)
    link = f"/contact/{contact.pk}/{invitations.link_token(contact)}/"
    visitor = client_for()
    page = visitor.get(link).content.decode()
    assert "Grandpa Li named you as their emergency contact" in page and "brother@example.net" not in page
    done = visitor.post(link, {"action": "confirm"})
    assert 'data-testid="respond-result"' in done.content.decode()
    contact.refresh_from_db()
    assert contact.verified_at is not None
    assert chat_gate(elder).open


def test_a_declining_contact_is_dropped_and_the_user_must_name_someone_else(demo, smtp_sink, sms_gateway,
                                                                            django_capture_on_commit_callbacks):
    """BX-13: even an adult who had skipped the question is asked again at once."""
    adult = make_user(40)
    client = client_for(adult)
    client.post("/contacts/skip/")
    assert client.get("/chat/friend/").status_code == 200
    add(client, django_capture_on_commit_callbacks)
    contact = Contact.objects.get(user=adult)
    link = f"/contact/{contact.pk}/{invitations.link_token(contact)}/"
    declined = client_for().post(link, {"action": "decline"})
    assert 'data-testid="respond-result"' in declined.content.decode()
    contact.refresh_from_db()
    assert not contact.active and contact.declined_at is not None
    assert chat_gate(adult).prompt
    assert client.get("/chat/friend/")["Location"] == "/contacts/?next=%2Fchat%2Ffriend%2F"
    assert "Declined: name someone else" in client.get("/contacts/").content.decode()
    assert client_for().get(link).status_code == 404  # used
    assert AuditEvent.objects.filter(action="contact.declined", subject_id=str(contact.pk)).count() == 1


@pytest.mark.asyncio
async def test_a_child_chats_only_after_the_guardian_links_with_the_texted_code_and_consents(
        demo, smtp_sink, sms_gateway, django_capture_on_commit_callbacks):
    """CN-MIN-03: the socket and the page stay shut until consent; then they open; withdrawing closes
    the open chat at once (CN-MIN-04: the guardian can revoke)."""
    child = await database_sync_to_async(make_user)(13, contacts=False, first_name="Xiaoming")
    _, connected, code = await open_socket(child)
    assert not connected and code == 4414

    def name_guardian():
        client = client_for(child)
        assert gate_reason(client) == "guardian_missing"
        refused = add(client, django_capture_on_commit_callbacks, kind="guardian", email="")
        assert "Give your guardian&#x27;s email address" in refused.content.decode()
        add(client, django_capture_on_commit_callbacks, kind="guardian", name="Wang Fang", relationship="mother",
            email="mum@example.net", phone="+86 138 0013 8000")
        assert gate_reason(client) == "guardian_pending"
        contact = Contact.objects.get(user=child)
        mail = next(message for message in smtp_sink.messages if message.rcpt_tos == ("mum@example.net",))
        assert "Because Xiaoming is under 14" in mail.text
        link = "/contact/{}/{}/".format(*LINK.search(mail.text).groups())
        code = code_in(texted(sms_gateway, "+8613800138000"))

        anonymous = client_for().get(link).content.decode()
        assert 'data-testid="guardian-login"' in anonymous and 'data-testid="consent-notice"' in anonymous
        assert client_for().post(link, {"action": "confirm"}).status_code == 200  # a guardian cannot skip the code
        contact.refresh_from_db()
        assert contact.verified_at is None

        unverified = client_for(make_user(45, unverified=True))  # CN-REG-04: own mobile first
        assert unverified.get(link)["Location"] == "/accounts/phone/?next=" + link.replace("/", "%2F")
        mum = make_user(41, username="mum", email="mum@example.net")
        guardian = client_for(mum)
        no_tick = guardian.post(link, {"action": "link", "code": code}).content.decode()
        assert "Tick the box to give your consent" in no_tick
        wrong = guardian.post(link, {"action": "link", "code": "000000" if code != "000000" else "111111",
                                     "consent": "on"}).content.decode()
        assert "That code is not right" in wrong
        linked = guardian.post(link, {"action": "link", "code": code, "consent": "on"})
        assert linked["Location"] == "/guardian/"
        contact.refresh_from_db()
        assert contact.account == mum and contact.has_consent and mum.has_role(Role.GUARDIAN)
        portal = guardian.get("/guardian/").content.decode()
        assert 'data-ward="%s"' % child.username in portal
        assert client.get("/chat/friend/").status_code == 200
        return guardian, contact

    guardian, contact = await database_sync_to_async(name_guardian)()
    chat, connected, _ = await open_socket(child)
    assert connected
    assert (await chat.receive_json_from())["type"] == "ready"

    withdrawn = await database_sync_to_async(guardian.post)(
        f"/guardian/wards/{contact.pk}/consent/", {"consent": "withdraw"})
    assert withdrawn.status_code == 302
    frames = []
    while not frames or frames[-1]["type"] != "closed":
        frames.append(await chat.receive_json_from(timeout=5))
    assert frames[-1] == {"type": "closed", "reason": "blocked"}
    notice = frames[-2]
    assert notice["type"] == "notice" and notice["kind"] == "contacts" and notice["link"]["url"] == "/contacts/"
    assert (await chat.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4414}
    _, connected, code = await open_socket(child)
    assert not connected and code == 4414
    actions = await database_sync_to_async(lambda: list(
        AuditEvent.objects.filter(subject_id=str(contact.pk), action__startswith="guardian.")
        .order_by("id").values_list("action", flat=True)))()
    assert actions == ["guardian.consent_given", "guardian.consent_withdrawn"]

    await database_sync_to_async(guardian.post)(f"/guardian/wards/{contact.pk}/consent/", {"consent": "give"})
    again, connected, _ = await open_socket(child)
    assert connected
    await again.disconnect()


def test_only_an_adult_other_than_the_child_can_be_the_guardian(smtp_sink, sms_gateway,
                                                                django_capture_on_commit_callbacks):
    child = make_user(12, contacts=False)
    add(client_for(child), django_capture_on_commit_callbacks, kind="guardian", email="g@example.net")
    contact = Contact.objects.get(user=child)
    token, code = invitations.link_token(contact), invitations.code_for(contact)
    for account in (child, make_user(16, contacts=False)):
        with pytest.raises(services.ContactRefused) as refused:
            services.link_guardian(contact_id=contact.pk, token=token, account=account, code=code)
        assert refused.value.code == "not_an_adult_guardian"
    contact.refresh_from_db()
    assert contact.account is None and contact.code_attempts == 0  # refused before a try was counted


def test_changing_a_contacts_number_needs_confirmation_again_and_the_old_number_is_told(
        smtp_sink, sms_gateway, django_capture_on_commit_callbacks):
    elder = make_user(70, contacts=True)  # a confirmed emergency contact, +8613700137000
    contact = Contact.objects.get(user=elder)
    assert chat_gate(elder).open
    client = client_for(elder)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/contacts/{contact.pk}/edit/", {
            "name": contact.name, "relationship": "", "email": contact.email, "phone": "+8613911112222",
            "language": "en"})
    contact.refresh_from_db()
    assert contact.phone == "+8613911112222" and contact.verified_at is None
    assert "no longer receive messages about them" in texted(sms_gateway, "+8613700137000")
    assert code_in(texted(sms_gateway, "+8613911112222")) == invitations.code_for(contact)
    assert not smtp_sink.messages or all(  # the email did not change: it is not told it was replaced
        "no longer" not in message.text for message in smtp_sink.messages if contact.email in message.rcpt_tos)
    assert gate_reason(client) == "emergency_pending"
    assert AuditEvent.objects.get(action="contact.updated", subject_id=str(contact.pk)).data["reverify"] is True


def test_a_contact_our_messages_cannot_reach_is_flagged_and_must_be_fixed(sms_gateway, settings,
                                                                          django_capture_on_commit_callbacks):
    """CN-REG-03: a contact whose messages fail after every retry blocks an elder's chat until fixed."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    elder = make_user(75, contacts=False)
    client = client_for(elder)
    sms_gateway.fail_next = 100
    add(client, django_capture_on_commit_callbacks, email="")
    contact = Contact.objects.get(user=elder)
    assert contact.bounced_at is not None
    assert gate_reason(client) == "contact_bounced"
    assert "do not reach them" in client.get("/contacts/").content.decode()
    sms_gateway.fail_next = 0
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/contacts/{contact.pk}/edit/", {"name": "Zhang Wei", "relationship": "", "email": "",
                                                      "phone": "+8613955556666", "language": "en"})
    contact.refresh_from_db()
    assert contact.bounced_at is None and gate_reason(client) == "emergency_pending"


def test_invalid_and_expired_links_show_a_clear_page(smtp_sink, sms_gateway, django_capture_on_commit_callbacks):
    elder = make_user(66, contacts=False)
    add(client_for(elder), django_capture_on_commit_callbacks)
    contact = Contact.objects.get(user=elder)
    visitor = client_for()
    assert visitor.get(f"/contact/{contact.pk}/{'0' * 40}/").status_code == 404
    assert visitor.get(f"/contact/999999/{invitations.link_token(contact)}/").status_code == 404
    with time_machine.travel(timezone.now() + dt.timedelta(days=15)):
        page = visitor.get(f"/contact/{contact.pk}/{invitations.link_token(contact)}/")
        assert page.status_code == 404 and 'data-testid="respond-invalid"' in page.content.decode()


def test_only_guardians_use_the_portal_and_only_for_their_own_wards(django_capture_on_commit_callbacks):
    child = make_user(13, contacts=True)  # linked to its own guardian account by the factory
    contact = Contact.objects.get(user=child)
    assert client_for(make_user(30)).get("/guardian/").status_code == 403
    stranger = make_guardian_account()
    assert client_for(stranger).post(f"/guardian/wards/{contact.pk}/consent/", {"consent": "withdraw"}).status_code == 404
    contact.refresh_from_db()
    assert contact.has_consent
    assert client_for(child).post("/contacts/skip/").status_code == 403  # a minor cannot skip the gate


@pytest.mark.parametrize(("band", "regime", "consent", "expected"), [
    (AgeBand.CHILD, "union", False, "guardian_consent"),
    (AgeBand.CHILD, "final", False, "guardian_consent"),  # CN-MIN-03 is final law
    (AgeBand.MINOR, "union", False, "guardian_consent"),  # CN-MIN-04, draft only
    (AgeBand.MINOR, "draft", False, "guardian_consent"),
    (AgeBand.MINOR, "final", False, ""),
    (AgeBand.MINOR, "final", True, ""),
    (AgeBand.CHILD, "union", True, ""),
])
def test_which_minors_need_the_guardians_consent(band, regime, consent, expected):
    now = timezone.now()
    guardian = Contact(kind=ContactKind.GUARDIAN, verified_at=now, account_id=1,
                       consent_at=now if consent else None)
    gate = contact_gate(band=band, regime=regime, guardian=guardian, emergency=[], skipped_at=None,
                        declined_at=None, now=now, prompt_days=30)
    assert gate.blocking == expected


def test_an_adult_who_skipped_is_asked_again_after_thirty_days():
    now = timezone.now()
    ask = dict(band=AgeBand.ADULT, regime="union", guardian=None, emergency=[], declined_at=None, prompt_days=30)
    assert contact_gate(skipped_at=None, now=now, **ask).prompt
    assert not contact_gate(skipped_at=now - dt.timedelta(days=29), now=now, **ask).prompt
    assert contact_gate(skipped_at=now - dt.timedelta(days=31), now=now, **ask).prompt
    assert contact_gate(skipped_at=None, now=now, **ask).open  # adults are asked, never blocked
    pending = Contact(kind=ContactKind.EMERGENCY)
    assert not contact_gate(skipped_at=None, now=now, **{**ask, "emergency": [pending]}).prompt


def test_an_elder_checks_once_a_year_that_the_emergency_contact_is_still_right(demo):
    """CN-ELD-01: a year after confirming, chat waits for one press of "Still right"."""
    elder = make_user(68, contacts=True)
    contact = Contact.objects.get(user=elder)
    with time_machine.travel(timezone.now() + dt.timedelta(days=366)):
        client = client_for(elder)
        assert client.get("/chat/friend/")["Location"] == "/contacts/?next=%2Fchat%2Ffriend%2F"
        assert gate_reason(client) == "emergency_reconfirm"
        assert 'data-testid="contact-reconfirm"' in client.get("/contacts/?next=/chat/friend/").content.decode()
        client.post(f"/contacts/{contact.pk}/reconfirm/", {"next": "/chat/friend/"})
        assert client.get("/chat/friend/").status_code == 200
    assert AuditEvent.objects.filter(action="contact.reconfirmed", subject_id=str(contact.pk)).count() == 1
    stranger = client_for(make_user(70, contacts=True))
    assert stranger.post(f"/contacts/{contact.pk}/reconfirm/").status_code == 404
