"""Safety contacts in a real browser (issue #4 item 2): chat opens only once the contacts a person
must have are in order (CN-REG-03), a child's guardian confirms with the emailed link and the texted
code and gives consent (CN-MIN-03, CN-MIN-04), an older person's emergency contact confirms with a code
(CN-ELD-01), and a contact may decline (BX-13).

Invitations travel for real: email over SMTP to the local sink (`e2e_smtp_sink`), texts over HTTP to
the local gateway (`e2e_sms_gateway`); each test reads them as their recipient would.
"""
import re
import secrets
from urllib.parse import urlsplit

import pytest
from browser_helpers import (CJK, add_contact, birth_date_for_age, chat_opened, chat_socket_outcome, code_in,
                             contact_link, mailed, new_mobile, open_chat, send_message, sign_up, texted,
                             translated, verify_phone, wait_for_reply, zh_translation)
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

LOCALES = [("en-US", "en"), ("zh-CN", "zh-hans")]
SERVICE_NAME = "Haven"
MESSAGES = {"en": "Hi! Shall we talk about my favourite books?", "zh-hans": "你好！我们聊聊我最喜欢的书吧？"}
GATE_PATH = re.compile(r"/contacts/\?next=%2Fchat%2Ffriend%2F$")


def new_person(page: Page, gateway, *, language: str, age: int, prefix: str) -> tuple[str, str]:
    """A new person signs up at `age` in the page's language and verifies their mobile (CN-REG-04);
    returns (username, mobile)."""
    username, mobile = f"{prefix}{secrets.token_hex(4)}", new_mobile()
    sign_up(page, username=username, birth_date=birth_date_for_age(age), mobile=mobile)
    expect(page.locator("html")).to_have_attribute("lang", language)
    verify_phone(page, gateway, mobile)
    return username, mobile


def gate_on_chat(page: Page, reason: str):
    """Opening the chat lands on the contacts page, whose gate says what is missing."""
    page.goto("/chat/friend/")
    expect(page).to_have_url(GATE_PATH)
    gate = page.get_by_test_id("contact-gate")
    expect(gate).to_have_attribute("data-reason", reason)
    return gate


def expect_translated(locator, msgid: str, language: str) -> None:
    """The text in the page's language: the string itself, or its catalogue translation (a string
    with placeholders: some Chinese text)."""
    expected = msgid if language == "en" else zh_translation(msgid)
    assert expected, f"no zh translation of {msgid!r}"
    expect(locator).to_contain_text(CJK if language != "en" and "%(" in msgid else expected.split("%(")[0])


@pytest.mark.parametrize("locale, language", LOCALES)
def test_child_chats_only_once_the_guardian_linked_and_consented(new_context, e2e_sms_gateway, e2e_smtp_sink,
                                                                 locale, language):
    """CN-REG-03, CN-MIN-03, CN-MIN-04: a 13-year-old must name a guardian; the guardian, invited by
    email and text, signs up, confirms with the code and consents; the child chats; when the guardian
    withdraws consent the child's chat closes at once and stays locked."""
    child = new_context(locale).new_page()
    child_name, _ = new_person(child, e2e_sms_gateway, language=language, age=13, prefix="kid")

    gate = gate_on_chat(child, "guardian_missing")
    expect_translated(gate, "Before you can chat", language)
    guardian_email, guardian_mobile = f"g{secrets.token_hex(5)}@example.com", new_mobile()
    row = add_contact(child, kind="guardian", name="Mum", email=guardian_email, phone=f"+86{guardian_mobile}")
    expect(gate).to_have_attribute("data-reason", "guardian_pending")
    expect(row.get_by_test_id("contact-code-form")).to_have_count(0)  # a guardian confirms in the portal
    gate_on_chat(child, "guardian_pending")
    socket = chat_socket_outcome(child, "friend")
    assert not socket["opened"], f"the chat socket was accepted while the gate is closed: {socket}"

    # The guardian's inbox and phone: the link and the code, about the child, never what they wrote.
    invitation = mailed(e2e_smtp_sink, guardian_email)
    assert child_name in invitation.text and SERVICE_NAME in invitation.text, invitation.text
    link = contact_link(invitation.text)
    text = texted(e2e_sms_gateway, f"+86{guardian_mobile}")
    assert link in text, f"the text does not carry the invitation link {link}: {text!r}"
    code = code_in(text)

    guardian = new_context(locale).new_page()
    response = guardian.goto(link)
    assert response is not None and response.status == 200, f"{link} answered {response and response.status}"
    expect(guardian.get_by_test_id("respond-heading")).to_contain_text(child_name)
    expect_translated(guardian.get_by_test_id("respond-heading"), "%(name)s named you as their guardian", language)
    expect(guardian.get_by_test_id("guardian-login")).to_be_visible()
    guardian.get_by_test_id("guardian-signup").click()
    expect(guardian).to_have_url(re.compile(r"/accounts/signup/\?next="))
    guardian_name, own_mobile = f"gd{secrets.token_hex(4)}", new_mobile()
    sign_up(guardian, username=guardian_name, birth_date=birth_date_for_age(41), mobile=own_mobile, open_form=False)
    # Back at the invitation, a new guardian account proves its own mobile first (CN-REG-04), then
    # returns to the invitation.
    expect(guardian).to_have_url(re.compile(r"/accounts/phone/\?next="))
    verify_phone(guardian, e2e_sms_gateway, own_mobile)
    expect(guardian).to_have_url(re.compile(re.escape(link) + "$"))

    form = guardian.get_by_test_id("guardian-link-form")
    form.locator("input[name=code]").fill(code)
    form.locator("input[name=consent]").check()
    guardian.get_by_test_id("guardian-consent").click()
    expect(guardian).to_have_url(re.compile(r"/guardian/$"))
    ward = guardian.get_by_test_id("ward-list").locator(f'tr[data-ward="{child_name}"]')
    expect(ward).to_have_count(1)
    expect(ward.get_by_test_id("consent-withdraw")).to_be_visible()

    assert chat_socket_outcome(child, "friend")["opened"], "the chat socket is still refused after consent"
    open_chat(child, "friend")
    wait_for_reply(send_message(child, MESSAGES[language]))
    for message in e2e_smtp_sink.messages:
        if guardian_email in message.rcpt_tos:
            assert MESSAGES[language] not in message.text

    ward.get_by_test_id("consent-withdraw").click()
    expect(ward.get_by_test_id("consent-give")).to_be_visible()
    # The open chat ends at once (the server closes the socket) and does not come back.
    expect(child.locator("#closed-panel")).to_be_visible()
    expect(child.locator("#composer")).to_be_hidden()
    # It says why and where to look, not "this character is not available".
    expect(child.get_by_test_id("contacts-link")).to_have_attribute("href", "/contacts/")
    expect_translated(child.locator("#closed-text"), "Chat is paused: your guardian has withdrawn consent, or "
                      "your safety contacts need attention.", language)
    child.reload()
    expect(child).to_have_url(GATE_PATH)
    expect(child.get_by_test_id("contact-gate")).to_have_attribute("data-reason", "guardian_consent")


@pytest.mark.parametrize("locale, language", LOCALES)
def test_older_person_chats_once_their_emergency_contact_is_confirmed(new_context, e2e_sms_gateway, locale,
                                                                      language):
    """CN-ELD-01, CN-REG-03: a 70-year-old must name an emergency contact and confirm it with the code
    texted to the contact before the first chat."""
    page = new_context(locale).new_page()
    new_person(page, e2e_sms_gateway, language=language, age=70, prefix="elder")

    gate = gate_on_chat(page, "emergency_missing")
    contact_mobile = new_mobile()
    row = add_contact(page, kind="emergency", name="Daughter", phone=contact_mobile)
    expect(gate).to_have_attribute("data-reason", "emergency_pending")

    # The contact reads the code out to them over the phone.
    code = code_in(texted(e2e_sms_gateway, f"+86{contact_mobile}"))
    row.get_by_test_id("contact-code-form").locator("input[name$=code]").fill(code)
    with page.expect_navigation():
        row.get_by_test_id("contact-verify").click()
    expect(page.get_by_test_id("contact-gate")).to_have_count(0)
    expect(page.get_by_test_id("contact-ready")).to_be_visible()
    page.get_by_test_id("contact-continue").click()
    expect(page).to_have_url(re.compile(r"/chat/friend/$"))
    chat_opened(page)
    wait_for_reply(send_message(page, MESSAGES[language]))


@pytest.mark.parametrize("locale, language", LOCALES)
def test_a_contact_who_declines_is_gone_and_the_person_is_asked_again(new_context, e2e_sms_gateway, e2e_smtp_sink,
                                                                      locale, language):
    """BX-13, CN-REG-03: an adult names an emergency contact; the contact declines through the emailed
    link, without an account; the adult sees it, is asked to name someone else, and the link is dead."""
    page = new_context(locale).new_page()
    new_person(page, e2e_sms_gateway, language=language, age=35, prefix="adult")

    page.goto("/chat/friend/")
    expect(page).to_have_url(GATE_PATH)
    expect(page.get_by_test_id("contact-prompt")).to_be_visible()
    contact_email = f"c{secrets.token_hex(5)}@example.com"
    add_contact(page, kind="emergency", name="Old friend", email=contact_email, phone=new_mobile())
    expect(page.get_by_test_id("contact-prompt")).to_have_count(0)
    expect(page.get_by_test_id("contact-ready")).to_be_visible()

    link = contact_link(mailed(e2e_smtp_sink, contact_email).text)
    contact = new_context(locale).new_page()
    contact.goto(link)
    expect(contact.get_by_test_id("contact-confirm")).to_be_visible()
    contact.get_by_test_id("contact-decline").click()
    expect(contact.get_by_test_id("respond-result")).to_be_visible()

    page.goto("/contacts/")
    row = page.get_by_test_id("contact-list").locator("tbody tr[data-kind=emergency]").filter(has_text="Old friend")
    expect(row.get_by_test_id("contact-status")).to_have_text(translated("Declined: name someone else", language))
    expect(page.get_by_test_id("contact-prompt")).to_be_visible()
    page.goto("/chat/friend/")
    expect(page).to_have_url(GATE_PATH)
    expect(page.get_by_test_id("contact-prompt")).to_be_visible()

    response = contact.goto(link)
    assert response is not None and response.status == 404, f"{link} answered {response and response.status}"
    expect(contact.get_by_test_id("respond-invalid")).to_be_visible()
    assert urlsplit(contact.url).path == link
