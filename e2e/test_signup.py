"""Accounts in a real browser: sign-up with a date of birth (CN-REG-02) and a mobile number verified by
a texted code (CN-REG-04), minors kept from adult-only roles."""
import re
import secrets
import time

import pytest
from browser_helpers import chat_opened, login, send_message, wait_for_reply, zh_translation
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def texted_code(gateway, to: str, timeout: float = 10) -> str:
    """The code in the newest text the server sent to `to` through the local gateway."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for request in reversed(list(gateway.requests)):
            if request["json"].get("to") == to:
                return re.search(r"\b(\d{6})\b", request["json"]["text"]).group(1)
        time.sleep(0.05)
    pytest.fail(f"no text to {to} reached the gateway in {timeout}s")


@pytest.mark.parametrize("locale, language", [("en-US", "en"), ("zh-CN", "zh-hans")])
def test_new_user_signs_up_and_chats_with_mentor(new_context, e2e_sms_gateway, locale, language):
    """CN-REG-01/02/04, CN-REG-03: an adult signs up, verifies the texted code, skips the
    emergency-contact question (adults may) and is taken on to the chat they opened, in either language."""
    page = new_context(locale).new_page()
    username = f"e2e{secrets.token_hex(4)}"
    mobile = f"136{secrets.randbelow(10 ** 8):08d}"
    page.goto("/accounts/signup/")
    form = page.locator("form:has(input[name=password1])")
    form.locator("input[name=email]").fill(f"{username}@example.com")
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=password1]").fill("Harbour-lantern-7391")
    form.locator("input[name=password2]").fill("Harbour-lantern-7391")
    form.locator("input[name=birth_date]").fill("1990-05-01")
    form.locator("select[name=region]").select_option("CN")
    form.locator("input[name=phone]").fill(mobile)
    form.locator("input[name=accept_terms]").check()  # CN-REG-01, CN-DAT-07: each consent its own box
    form.locator("input[name=accept_sensitive]").check()
    expect(form.locator("input[name=allow_training]")).not_to_be_checked()  # CN-DAT-06: off by default
    with page.expect_navigation():
        form.locator("[type=submit]").click()
    expect(page.get_by_test_id("whoami")).to_have_text(username)

    # CN-REG-04: sign-up lands on the code page; the code is texted to the number given.
    expect(page.get_by_test_id("code-sent-to")).to_contain_text(f"+86{mobile}")
    page.locator("input[name=code]").fill(texted_code(e2e_sms_gateway, f"+86{mobile}"))
    with page.expect_navigation():
        page.get_by_test_id("verify-code").click()

    # CN-REG-03: before the first chat an adult is asked to name an emergency contact, and may skip.
    page.goto("/chat/mentor/")
    expect(page).to_have_url(re.compile(r"/contacts/\?next=%2Fchat%2Fmentor%2F$"))
    expect(page.get_by_test_id("contact-gate")).to_have_count(0)
    page.get_by_test_id("contact-skip").click()
    expect(page).to_have_url(re.compile(r"/chat/mentor/$"))
    chat_opened(page)
    text = {"en": "Hello, can you help me plan my week?", "zh-hans": "你好，能帮我安排这周的计划吗？"}[language]
    reply = send_message(page, text)
    label = "AI-generated" if language == "en" else zh_translation("AI-generated")
    expect(reply.locator(".msg-label")).to_have_text(label)
    wait_for_reply(reply)


def test_minor_never_sees_or_opens_adult_only_characters(new_context):
    adult = new_context("en-US").new_page()
    login(adult, "adult")
    expect(adult.locator("li.character-card[data-slug=partner]")).to_have_count(1)  # the check below means something

    page = new_context("en-US").new_page()
    login(page, "minor13")
    page.goto("/")
    expect(page.locator("li.character-card[data-slug=friend]")).to_be_visible()
    expect(page.locator("li.character-card[data-slug=partner]")).to_have_count(0)
    expect(page.locator("li.character-card[data-slug=family]")).to_have_count(0)
    for slug in ("partner", "family"):
        response = page.goto(f"/chat/{slug}/")
        assert response is not None and response.status == 404, f"/chat/{slug}/ answered {response and response.status}"
    # CN-MIN-02: opening their socket directly (not through the page) is refused too.
    page.goto("/")
    for slug in ("partner", "family"):
        outcome = page.evaluate("""(slug) => new Promise((resolve) => {
            const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host
                                     + "/ws/chat/" + slug + "/");
            const frames = [];
            ws.addEventListener("message", (event) => frames.push(JSON.parse(event.data)));
            ws.addEventListener("close", (event) => resolve({frames, code: event.code}));
        })""", slug)
        assert outcome == {"frames": [{"type": "closed", "reason": "blocked"}], "code": 4403}, outcome
