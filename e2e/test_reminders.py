"""Pop-ups in a real browser: the AI disclosure after login and a continuous-use reminder (issue #7).

Both are modal, need "I understand", and the server keeps them until they are acknowledged.
"""
import time

import pytest
from browser_helpers import acknowledge_reminder, choose_language, login, send_message, wait_for_reply
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_disclosure_and_reminder_popups_must_be_acknowledged(new_context, fast_reminder_server_url, fresh_streak):
    fresh_streak("elder")  # e2e/test_elderly.py chats as `elder` minutes before: that use is not this test's
    page = new_context("en-US", base_url=fast_reminder_server_url).new_page()
    login(page, "elder")
    choose_language(page, "en")
    page.goto("/chat/friend/")
    expect(page.locator("#connection-status")).to_have_attribute("data-state", "open")
    # CN-DIS-02: the first chat after a login opens with the AI disclosure, modal.
    text = acknowledge_reminder(page, "disclosure")
    assert "artificial intelligence, not people" in text

    # A reload in the same login does not ask again: it was acknowledged and logged.
    page.reload()
    expect(page.locator("#connection-status")).to_have_attribute("data-state", "open")
    assert page.locator("#chat").get_attribute("data-pending-reminders") == "0"
    expect(page.locator("#reminder-dialog")).to_be_hidden()

    # This server shortens the 2-hour interval to 6 seconds; keep using the chat past it.
    wait_for_reply(send_message(page, "Hello, tell me something nice."))
    deadline = time.monotonic() + 20
    while not page.locator("#reminder-dialog").is_visible() and time.monotonic() < deadline:
        wait_for_reply(send_message(page, f"Still here at {time.monotonic():.0f}"))
    reminder = acknowledge_reminder(page, "continuous_use")
    assert "without a pause" in reminder and "break" in reminder
    # CN-USE-01: it also stays in the conversation as a system line.
    expect(page.locator("li.msg-reminder").last.locator(".msg-text")).to_have_text(reminder)

    # Acknowledged once, never shown again after a reload.
    page.reload()
    expect(page.locator("#connection-status")).to_have_attribute("data-state", "open")
    expect(page.locator("#reminder-dialog")).to_be_hidden()


def test_exit_from_inside_a_reminder(new_context, fast_reminder_server_url):
    page = new_context("zh-CN", base_url=fast_reminder_server_url).new_page()
    login(page, "minor16")
    page.goto("/chat/study-buddy/")
    expect(page.locator("#connection-status")).to_have_attribute("data-state", "open")
    expect(page.locator("#reminder-dialog")).to_be_visible()
    page.locator("#reminder-exit").click()  # exit is one step even while a pop-up is open (BX-17)
    expect(page.locator("#closed-panel")).to_be_visible()
    expect(page.locator("#reminder-dialog")).to_be_hidden()
