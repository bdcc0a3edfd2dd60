"""Suspected minors in a real browser (CN-MIN-05, CN-MIN-06; issue #5 acceptance): an adult who
writes "我才13岁" is switched to minor mode at once, every open chat says why with an appeal link,
romantic characters disappear, and the person appeals with their resident ID number; a compliance
officer grants the appeal in the compliance area and minor mode ends."""
import datetime as dt
import re
import secrets

import pytest
from browser_helpers import (birth_date_for_age, choose_language, chat_opened, login, new_mobile, send_message,
                             sign_up, translated, verify_phone)
from playwright.sync_api import expect

from accounts.policies import resident_id_check_character

pytestmark = pytest.mark.e2e


def resident_id(birth_date: str) -> str:
    """A well-formed resident ID number (GB 11643 check character) for that birth date."""
    body = f"110105{dt.date.fromisoformat(birth_date):%Y%m%d}{secrets.randbelow(900) + 100}"
    return body + resident_id_check_character(body)


@pytest.mark.parametrize("locale, language, text", [("en-US", "en", "I'm 13 btw"), ("zh-CN", "zh-hans", "我才13岁")])
def test_an_adult_who_says_they_are_13_is_switched_to_minor_mode_and_can_appeal(
        saved_language_restored, new_context, e2e_sms_gateway, locale, language, text):
    saved_language_restored("compliance", "zh-hans")  # the demo account's saved language (seed_demo)
    page = new_context(locale).new_page()
    username, mobile, birth = f"sus{secrets.token_hex(4)}", new_mobile(), birth_date_for_age(30)
    sign_up(page, username=username, birth_date=birth, mobile=mobile)
    verify_phone(page, e2e_sms_gateway, mobile)
    page.goto("/chat/partner/")
    page.get_by_test_id("contact-skip").click()  # CN-REG-03: adults may skip the emergency contact
    expect(page).to_have_url(re.compile(r"/chat/partner/$"))
    chat_opened(page)

    send_message(page, text)
    closed = page.locator("#closed-panel")
    expect(closed).to_be_visible()
    expect(closed).to_have_attribute("data-notice", "minor_mode")
    expect(page.locator("#closed-text")).to_contain_text(translated(
        "Some of your messages suggest you may be under 18, so minor mode is now on: some characters are unavailable, "
        "time limits and rest hours apply, and purchases need a guardian. Open the chat again to continue. If you "
        "are 18 or over, you can appeal.", language)[:12])

    # Romantic and relative characters are gone at once; the page says minor mode is on everywhere.
    page.goto("/")
    expect(page.locator("li.character-card[data-slug=friend]")).to_be_visible()
    expect(page.locator("li.character-card[data-slug=partner]")).to_have_count(0)
    banner = page.get_by_test_id("minor-mode-banner")
    expect(banner).to_contain_text(translated(
        "Minor mode is on: some of your messages suggested you may be under 18.", language))
    response = page.goto("/chat/partner/")
    assert response is not None and response.status == 404

    # The appeal: an explanation and the resident ID number whose birth date is the account's.
    page.goto("/")
    with page.expect_navigation():
        page.get_by_test_id("minor-mode-banner").get_by_role("link").click()
    expect(page.get_by_test_id("minor-mode-on")).to_be_visible()
    page.locator("textarea[name=explanation]").fill("I am 30; I was quoting my niece.")
    page.locator("input[name=id_number]").fill(resident_id(birth)[:-1] + "Z")
    with page.expect_navigation():
        page.get_by_test_id("appeal-submit").click()
    expect(page.locator("strong.error")).to_contain_text(translated(
        "This is not a valid resident ID number: check every character.", language))
    page.locator("input[name=id_number]").fill(resident_id(birth))
    with page.expect_navigation():
        page.get_by_test_id("appeal-submit").click()
    expect(page.get_by_test_id("appeal-status")).to_have_text(translated("Waiting for a decision", language))
    expect(page.get_by_test_id("appeal-form")).to_have_count(0)

    # A compliance officer decides in the compliance area; minor mode ends at once.
    officer = new_context(locale).new_page()
    login(officer, "compliance")
    choose_language(officer, language)
    officer.goto("/compliance/minor-appeals/")
    row = officer.locator("[data-testid=appeal-queue] tr", has_text=username)
    with officer.expect_navigation():
        row.get_by_role("link").click()
    expect(officer.get_by_test_id("id-check")).to_contain_text(translated(
        "ID number valid; its birth date matches the account and is 18 or over", language))
    officer.locator("input[name=decision][value=grant]").check()
    with officer.expect_navigation():
        officer.get_by_test_id("decide-submit").click()
    expect(officer.get_by_test_id("appeal-status")).to_have_text(translated("Granted: minor mode ended", language))

    page.goto("/")
    expect(page.get_by_test_id("minor-mode-banner")).to_have_count(0)
    expect(page.locator("li.character-card[data-slug=partner]")).to_have_count(1)


def test_compliance_signs_off_the_overdue_yearly_minors_audit(new_context):
    """CN-MIN-15: last year's audit was due on 31 March; the compliance area shows a red alert until
    an officer reviews the evidence pack and signs it off (the demo officer reads Chinese)."""
    page = new_context("zh-CN").new_page()
    login(page, "compliance")
    page.goto("/compliance/complaints/")
    alert = page.get_by_test_id("minors-audit-alert")
    expect(alert).to_have_attribute("data-state", "overdue")
    expect(alert).to_contain_text(translated("The yearly minors' data audit is overdue.", "zh-hans"))
    with page.expect_navigation():
        alert.get_by_role("link").click()
    expect(page.locator("[data-section=population]")).to_be_visible()
    page.locator("#audit-note").fill("未发现问题。")
    with page.expect_navigation():
        page.get_by_test_id("audit-sign-submit").click()
    expect(page.get_by_test_id("audit-status")).to_have_attribute("data-state", "signed")
    expect(page.get_by_test_id("pack-sha256")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    expect(page.get_by_test_id("minors-audit-alert")).to_have_count(0)
