"""CN-MIN-09 in the browser: in the guardian portal the demo `guardian` turns `storyteller` off for
`minor16`, whose open chat with it ends at once with the reason and whose home page no longer lists
it; then turns it on again. The demo data is shared by the whole session: the block is always lifted
at the end, also when the test fails."""
import pytest
from browser_helpers import choose_language, login, open_chat, translated
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

LOCALES = [("en-US", "en"), ("zh-CN", "zh-hans")]
WARD, SLUG = "minor16", "storyteller"


def switch(page: Page):
    """The storyteller's row in minor16's list of characters on the guardian portal."""
    return page.locator(f'[data-testid="ward-characters"][data-ward="{WARD}"] li[data-character="{SLUG}"]')


def press(page: Page, testid: str, blocked: str) -> None:
    row = switch(page)
    with page.expect_navigation():
        row.get_by_test_id(testid).click()
    expect(row).to_have_attribute("data-blocked", blocked)


def allow_again(page: Page) -> None:
    """Lift the block if it is there (the cleanup)."""
    page.goto("/guardian/")
    if switch(page).get_attribute("data-blocked") == "yes":
        press(page, "character-allow", "no")


def character_card(page: Page):
    return page.locator(f'li.character-card[data-slug="{SLUG}"]')


@pytest.mark.parametrize("locale, language", LOCALES)
def test_guardian_blocks_storyteller_and_the_open_chat_ends_at_once(saved_language_restored, new_context,
                                                                    locale, language):
    guardian = new_context(locale).new_page()
    login(guardian, "guardian")
    child = new_context(locale).new_page()
    login(child, WARD)
    if language == "en":  # both demo accounts are CN profiles saved as zh-hans
        saved_language_restored("guardian", "zh-hans")
        saved_language_restored(WARD, "zh-hans")
        choose_language(guardian, "en")
        choose_language(child, "en")
    try:
        open_chat(child, SLUG)
        expect(child.locator("html")).to_have_attribute("lang", language)

        guardian.goto("/guardian/")
        expect(switch(guardian)).to_have_attribute("data-blocked", "no")
        press(guardian, "character-block", "yes")
        expect(switch(guardian).get_by_test_id("character-state")).to_have_text(translated("Turned off", language))

        # The open chat ends at once, saying who turned the character off; it does not reconnect.
        expect(child.locator("#closed-panel")).to_be_visible()
        expect(child.locator("#closed-panel")).to_have_attribute("data-notice", "guardian_block")
        expect(child.locator("#closed-text")).to_have_text(
            translated("Your guardian has turned this character off.", language))
        expect(child.locator("#composer")).to_be_hidden()
        expect(child.locator("#connection-status")).to_have_attribute("data-state", "closed")

        child.goto("/")
        expect(child.locator("li.character-card[data-slug=friend]")).to_have_count(1)
        expect(character_card(child)).to_have_count(0)
        response = child.goto(f"/chat/{SLUG}/")
        assert response is not None and response.status == 403, f"/chat/{SLUG}/ answered {response and response.status}"
        expect(child.get_by_test_id("character-blocked")).to_contain_text(translated(
            "Your guardian has turned this character off. They can turn it on again in the guardian portal.",
            language))

        press(guardian, "character-allow", "no")
        child.goto("/")
        expect(character_card(child)).to_have_count(1)
        open_chat(child, SLUG)
    finally:
        allow_again(guardian)
