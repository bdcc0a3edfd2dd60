"""Accounts in a real browser: sign-up with a date of birth (CN-REG-02), minors kept from adult-only roles."""
import secrets

import pytest
from browser_helpers import login, open_chat, send_message, wait_for_reply
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_new_user_signs_up_and_chats_with_mentor(new_context):
    page = new_context("en-US").new_page()
    username = f"e2e{secrets.token_hex(4)}"
    page.goto("/accounts/signup/")
    form = page.locator("form:has(input[name=password1])")
    form.locator("input[name=email]").fill(f"{username}@example.com")
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=password1]").fill("Harbour-lantern-7391")
    form.locator("input[name=password2]").fill("Harbour-lantern-7391")
    form.locator("input[name=birth_date]").fill("1990-05-01")
    form.locator("select[name=region]").select_option("CN")
    form.locator("input[name=accept_terms]").check()  # CN-REG-01, CN-DAT-07: each consent its own box
    form.locator("input[name=accept_sensitive]").check()
    expect(form.locator("input[name=allow_training]")).not_to_be_checked()  # CN-DAT-06: off by default
    with page.expect_navigation():
        form.locator("[type=submit]").click()
    expect(page.get_by_test_id("whoami")).to_have_text(username)

    open_chat(page, "mentor")
    reply = send_message(page, "Hello, can you help me plan my week?")
    expect(reply.locator(".msg-label")).to_have_text("AI-generated")
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
