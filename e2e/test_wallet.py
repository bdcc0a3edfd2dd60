"""CN-MIN-11 in the browser: the demo `adult` tops up through the sandbox payment page and buys a gift
(English); the demo `minor16` asks to buy one, the demo `guardian` turns purchases on and approves it
in the guardian portal, and the purchase completes (Simplified Chinese, the demo accounts' language).
The demo data is shared by the session: purchases for minor16 are turned off again at the end."""
from decimal import Decimal

import pytest
from browser_helpers import choose_language, login, translated
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

WARD = "minor16"


def balance(page: Page) -> Decimal:
    return Decimal(page.get_by_test_id("wallet-balance").inner_text().strip().lstrip("¥"))


def top_up(page: Page, yuan: int, language: str) -> None:
    """Our top-up form, then the sandbox provider's checkout page, then back with the signed return."""
    page.goto("/wallet/")
    page.locator("input[name=amount]").fill(str(yuan))
    with page.expect_navigation():
        page.get_by_test_id("wallet-topup").click()
    assert "/wallet/sandbox/pay/" in page.url
    expect(page.get_by_test_id("sandbox-amount")).to_contain_text(f"¥{yuan}")
    with page.expect_navigation():
        page.get_by_test_id("sandbox-pay").click()
    expect(page.locator(".flash")).to_contain_text(
        translated("Top-up of %(amount)s received.", language) % {"amount": f"¥{yuan}"})


def ask_for_gift(page: Page, slug: str) -> None:
    page.goto("/wallet/")
    with page.expect_navigation():
        page.locator(f'li[data-gift="{slug}"]').get_by_test_id("gift-buy").click()


def open_spending(page: Page) -> None:
    page.goto("/guardian/")
    with page.expect_navigation():
        page.locator(f'tr[data-ward="{WARD}"]').get_by_test_id("ward-spending").click()


def set_purchases(page: Page, on: bool) -> None:
    open_spending(page)
    page.locator("input[name=enabled]").set_checked(on)
    with page.expect_navigation():
        page.get_by_test_id("spending-save").click()


def test_adult_tops_up_in_the_sandbox_and_buys_a_gift(saved_language_restored, new_context):
    page = new_context("en-US").new_page()
    login(page, "adult")
    saved_language_restored("adult", "zh-hans")
    choose_language(page, "en")
    page.goto("/wallet/")
    before = balance(page)
    top_up(page, 50, "en")
    expect(page.get_by_test_id("wallet-balance")).to_have_text(_yuan(before + 50))
    ask_for_gift(page, "milk-tea")
    expect(page.locator(".flash")).to_contain_text("You bought A cup of milk tea.")
    expect(page.get_by_test_id("wallet-balance")).to_have_text(_yuan(before + 50 - 12))
    expect(page.get_by_test_id("wallet-history").locator('tr[data-kind="purchase"]').first).to_contain_text(
        "A cup of milk tea")


def test_minor_asks_guardian_approves_in_the_portal_and_the_purchase_completes(new_context):
    language = "zh-hans"
    guardian = new_context("zh-CN").new_page()
    login(guardian, "guardian")
    child = new_context("zh-CN").new_page()
    login(child, WARD)
    try:
        # Off until the guardian turns purchases on (CN-MIN-11).
        child.goto("/wallet/")
        expect(child.locator("html")).to_have_attribute("lang", language)
        expect(child.get_by_test_id("wallet-minor-rules")).to_have_text(translated(
            "Because you are under 18, purchases and top-ups are off until your guardian turns them on in the "
            "guardian portal.", language))
        set_purchases(guardian, True)
        expect(guardian.get_by_test_id("spending-state")).to_contain_text("¥100")

        top_up(child, 20, language)
        before = balance(child)
        ask_for_gift(child, "flowers")
        expect(child.locator(".flash")).to_contain_text(translated(
            "We asked your guardian to approve %(item)s. It is bought as soon as they approve in the guardian "
            "portal.", language) % {"item": translated("A bunch of flowers", language)})
        expect(child.get_by_test_id("wallet-balance")).to_have_text(_yuan(before))
        expect(child.get_by_test_id("wallet-requests").locator('li[data-status="pending"]')).to_have_count(1)

        open_spending(guardian)
        pending = guardian.get_by_test_id("spending-pending").locator("li")
        expect(pending).to_have_count(1)
        expect(pending).to_contain_text(translated("A bunch of flowers", language))
        with guardian.expect_navigation():
            pending.get_by_test_id("spending-approve").click()
        expect(guardian.get_by_test_id("spending-purchases")).to_contain_text(translated("Approved by you", language))

        child.goto("/wallet/")
        expect(child.get_by_test_id("wallet-balance")).to_have_text(_yuan(before - 6))
        expect(child.get_by_test_id("wallet-requests").locator('li[data-status="completed"]')).to_have_count(1)
        expect(child.get_by_test_id("wallet-history").locator('tr[data-kind="purchase"]')).to_contain_text(
            translated("A bunch of flowers", language))
    finally:
        set_purchases(guardian, False)


def _yuan(amount: Decimal) -> str:
    return f"¥{int(amount)}" if amount == amount.to_integral_value() else f"¥{amount:.2f}"
