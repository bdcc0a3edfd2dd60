"""CN-MIN-08, BX-14 and CN-MIN-14 in the browser: `minor13` chats; the demo `guardian` opens the ward's
usage page from the portal (English and Chinese), sees today's chat minutes from the server's usage
record in the totals, the chart and its table, but not what the child wrote; then deletes the chat
history after confirming, and the child's chat opens empty. minor13's chat time is reset before and
after (the time-limit test uses the same account)."""
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from browser_helpers import choose_language, login, open_chat, send_message, translated, wait_for_reply
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
LOCALES = [("en-US", "en"), ("zh-CN", "zh-hans")]
WARD = "minor13"
SECONDS_TODAY = 1500  # 25 minutes
DELETED = {"en": "Deleted", "zh-hans": "已删除"}  # the start of the success message (singular or plural)


@pytest.fixture
def chat_time(reset_daily_usage, server_env):
    """Set `username`'s chat seconds for today (Beijing) on the server's database, as the server's clock
    would have recorded them; reset_daily_usage removes them again after the test."""
    def record(username: str, seconds: int) -> None:
        reset_daily_usage(username)
        code = ("from django.utils import timezone; from accounts.models import User; "
                "from companion.models import DailyUsage; from guardians.usage import BEIJING; "
                f"DailyUsage.objects.update_or_create(user=User.objects.get(username={username!r}), "
                f"day=timezone.now().astimezone(BEIJING).date(), defaults={{'seconds': {seconds}}})")
        subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=server_env, check=True,
                       timeout=180, capture_output=True)
    return record


def period(page: Page, key: str):
    return page.get_by_test_id(f"usage-{key}")


@pytest.mark.parametrize("locale, language", LOCALES)
def test_guardian_sees_the_usage_summary_and_deletes_the_chat_history(saved_language_restored, new_context,
                                                                      chat_time, locale, language):
    marker = f"usage-marker-{secrets.token_hex(4)}"
    child = new_context(locale).new_page()
    login(child, WARD)
    open_chat(child, "friend")
    wait_for_reply(send_message(child, f"Hello, today I played football {marker}"))
    child.context.close()
    chat_time(WARD, SECONDS_TODAY)

    guardian = new_context(locale).new_page()
    login(guardian, "guardian")
    if language == "en":  # the demo guardian is a CN profile saved as zh-hans
        saved_language_restored("guardian", "zh-hans")
        choose_language(guardian, "en")
    guardian.goto("/guardian/")
    ward_row = guardian.locator(f'[data-testid="ward-list"] tr[data-ward="{WARD}"]')
    with guardian.expect_navigation():
        ward_row.get_by_test_id("ward-usage").click()
    expect(guardian.locator("html")).to_have_attribute("lang", language)
    days = period(guardian, "days")
    expect(days.get_by_role("heading", level=2)).to_contain_text(translated("Last 7 days", language))
    expect(days.get_by_test_id("total-minutes")).to_have_text("25")
    chart = days.get_by_test_id("chart-days")
    expect(chart).to_be_visible()
    expect(chart.locator("text.bar-value").last).to_have_text("25")  # today is the last bar
    expect(days.get_by_test_id("table-days").get_by_test_id("row-minutes").last).to_have_text("25")
    expect(period(guardian, "weeks").get_by_test_id("chart-weeks")).to_be_visible()
    assert int(days.get_by_test_id("total-messages").text_content()) >= 1
    assert marker not in guardian.content()  # BX-14

    with guardian.expect_navigation():
        guardian.get_by_test_id("history-delete-link").click()
    with guardian.expect_navigation():
        guardian.get_by_test_id("history-delete-confirm").click()
    expect(guardian.locator(".errorlist")).to_contain_text(translated("Tick the box to confirm the deletion.",
                                                                      language))
    guardian.locator("input[name=confirm]").check()
    with guardian.expect_navigation():
        guardian.get_by_test_id("history-delete-confirm").click()
    assert "/guardian/#ward-" in guardian.url
    expect(guardian.locator("li.flash-success")).to_contain_text(DELETED[language])

    child = new_context(locale).new_page()
    login(child, WARD)
    open_chat(child, "friend")
    expect(child.locator("li.msg-user")).to_have_count(0)
    assert marker not in child.content()
