"""Elderly protections in the browser (CN-REG-05, CN-ELD-04, CN-ELD-05), as the demo `elder` (72):
the larger-text theme is on by default and can be switched off, the tip of the day is on the home
page, "Investment" / "我想投资理财" brings the anti-fraud card with the 96110 hotline, and "Talk to a
person" files a help request whose page says when a person replies. `我想投资理财` also screens as a
property-loss risk and opens a safety case (CN-ELD-02): it is resolved at the end so the shared demo
account chats with the AI again."""
import pytest
from browser_helpers import (choose_language, login, open_chat, send_message,
                             translated, wait_for_reply)
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e


def body_classes(page: Page) -> list[str]:
    return (page.locator("body").get_attribute("class") or "").split()


def tab_to(page: Page, testid: str, presses: int = 25) -> bool:
    """Whether pressing Tab from the top of the page reaches the element (keyboard reachable)."""
    page.locator("body").focus()
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement && document.activeElement.dataset.testid") == testid:
            return True
    return False


# One character each: the card shows at most once per conversation every 30 minutes.
@pytest.mark.parametrize("locale, language, message, slug", [("en-US", "en", "Investment", "friend"),
                                                             ("zh-CN", "zh-hans", "我想投资理财", "mentor")])
def test_elder_reads_larger_text_is_warned_about_a_scam_and_asks_for_a_person(
        cases_closed, saved_language_restored, new_context, artifacts_dir, locale, language, message, slug):
    page = new_context(locale).new_page()
    login(page, "elder")
    if language == "en":  # `elder` is a CN profile saved as zh-hans
        saved_language_restored("elder", "zh-hans")
        choose_language(page, "en")
    else:
        cases_closed("elder")

    # CN-REG-05: larger text by default for 60+, switchable; the help button on every page.
    page.goto("/")
    assert "large-text" in body_classes(page)
    assert page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)") >= 20
    expect(page.get_by_test_id("talk-to-person")).to_have_text(translated("Talk to a person", language))
    assert tab_to(page, "talk-to-person")
    expect(page.get_by_test_id("daily-tip")).to_be_visible()
    with page.expect_navigation():
        page.get_by_test_id("large-text-off").click()
    assert "large-text" not in body_classes(page)
    assert page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)") < 20
    with page.expect_navigation():
        page.get_by_test_id("large-text-on").click()
    assert "large-text" in body_classes(page)

    # CN-ELD-04: the warning card, with the tap-to-call anti-fraud hotline.
    open_chat(page, slug)
    expect(page.get_by_test_id("talk-to-person")).to_be_visible()
    reply = send_message(page, message)
    card = page.get_by_test_id("scam-warning")
    expect(card).to_be_visible()
    expect(card.locator("h2")).to_have_text(translated("Be careful: this may be a scam", language))
    expect(card.get_by_test_id("scam-hotline")).to_have_attribute("href", "tel:96110")
    page.screenshot(path=str(artifacts_dir / f"elderly-scam-card-{language}.png"))
    if language == "en":
        wait_for_reply(reply)  # a warning, not a block: the AI still answers
    else:  # also a property-loss risk: the safety team joins (CN-ELD-02)
        expect(page.get_by_test_id("crisis-card")).to_be_visible()

    # CN-ELD-05: "Talk to a person" files a help request; its page says when a person replies.
    page.get_by_test_id("talk-to-person").click()
    expect(page.get_by_test_id("help-request-form")).to_be_visible()
    page.get_by_label(translated("Money, a call or a message I am not sure about", language)).check()
    with page.expect_navigation():
        page.get_by_test_id("send-help-request").click()
    expect(page.get_by_test_id("complaint-status")).to_be_visible()
    expect(page.locator("h1")).to_contain_text(translated("Help request", language))
    expect(page.get_by_test_id("answer")).to_contain_text(translated(
        "No reply yet. A person from our team will reply by the time above; reload this page to see it.",
        language))
