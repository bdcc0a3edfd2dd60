"""A guardian's real-time safety alert (CN-MIN-07; issue #5 acceptance): when a child's message is
a crisis, the guardian gets an email (through the local SMTP sink) and the alert in the portal,
saying what happened and what to do, never what the child wrote (BX-14)."""
import time

import pytest
from browser_helpers import choose_language, login, mailed, open_chat, send_message, translated
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

def to_guardian(sink) -> int:
    return sum(1 for message in list(sink.messages) if "guardian@example.com" in message.rcpt_tos)


CRISIS = {"en": "I've got the pills ready and I'm going to end it tonight", "zh-hans": "我已经把药准备好了，今晚就结束自己"}


@pytest.mark.parametrize("locale, language, child", [("en-US", "en", "minor16"), ("zh-CN", "zh-hans", "minor13")])
def test_a_guardian_receives_a_crisis_alert_by_email_and_in_the_portal(
        cases_closed, saved_language_restored, new_context, e2e_smtp_sink, locale, language, child):
    cases_closed(child)
    saved_language_restored("guardian", "zh-hans")
    saved_language_restored(child, "zh-hans")
    before = to_guardian(e2e_smtp_sink)

    page = new_context(locale).new_page()
    login(page, child)
    choose_language(page, language)
    open_chat(page, "study-buddy")
    send_message(page, CRISIS[language])
    expect(page.get_by_test_id("crisis-card")).to_be_visible()

    deadline = time.monotonic() + 30
    while to_guardian(e2e_smtp_sink) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1)  # a second email would have arrived by now
    assert to_guardian(e2e_smtp_sink) == before + 1  # one email for the case
    mail = mailed(e2e_smtp_sink, "guardian@example.com")
    assert CRISIS[language] not in mail.text and "pills" not in mail.text and "药" not in mail.text

    guardian = new_context(locale).new_page()
    login(guardian, "guardian")
    choose_language(guardian, language)
    guardian.goto("/guardian/alerts/")
    alerts = guardian.get_by_test_id("alert-list")
    expect(alerts).to_be_visible()
    newest = alerts.locator("li.alert-item").first
    expect(newest).to_contain_text(child)
    expect(guardian.locator("h1")).to_have_text(translated("Safety alerts", language))
    assert CRISIS[language] not in (guardian.content())
