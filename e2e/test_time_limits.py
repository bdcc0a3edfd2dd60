"""Minors' daily time limit in a real browser (CN-MIN-10, BX-07; issue #5 item 1).

The time-limit server gives minors 15 seconds a day and a heartbeat every 2 seconds: a minor hits
the time limit and stays locked after reconnect in another tab.
"""
import pytest
from browser_helpers import acknowledge_reminder, choose_language, login
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e
MINOR, SLUG = "minor13", "study-buddy"


@pytest.mark.parametrize("browser_locale, language, says", [
    ("en-US", "en", "Beijing time"),
    ("zh-CN", "zh-hans", "北京时间"),
])
def test_a_minor_hits_the_time_limit_and_stays_locked_after_reconnect_in_another_tab(
        new_context, time_limit_server_url, reset_daily_usage, browser_locale, language, says):
    reset_daily_usage(MINOR)
    context = new_context(browser_locale, base_url=time_limit_server_url)
    page = context.new_page()
    login(page, MINOR)
    choose_language(page, language)
    response = page.goto(f"/chat/{SLUG}/")
    assert response is not None and response.status == 200
    expect(page.locator("#connection-status")).to_have_attribute("data-state", "open")
    acknowledge_reminder(page, "disclosure")

    # Reading counts: visible-chat heartbeats use up the 15 seconds; every tab then closes with why.
    closed = page.locator("#closed-panel")
    expect(closed).to_be_visible(timeout=45_000)
    expect(closed).to_have_attribute("data-reason", "time_limit")
    expect(page.locator("#closed-text")).to_contain_text(says)
    expect(page.locator("li.msg-reminder").last.locator(".msg-text")).to_contain_text(says)
    expect(page.locator("#composer")).to_be_hidden()

    # Another tab (a reconnect) the same day: the page says why instead of opening the chat.
    other = context.new_page()
    response = other.goto(f"/chat/{SLUG}/")
    assert response is not None and response.status == 403
    locked = other.get_by_test_id("time-locked")
    expect(locked).to_have_attribute("data-reason", "time_limit")
    expect(locked).to_contain_text(says)
    assert other.locator("#connection-status").count() == 0
