"""CN-SVC-01/02 in the browser: a compliance officer schedules a notice of a persona change through
the staff page, a user who talked with the character sees the banner on every page (en and zh) and
the notice in the chat itself, and the banner goes when the notice is cancelled; an outage statement
shows a banner and a status entry until it is resolved with an incident note.

Only reversible steps: the server and its demo data are shared with the other browser tests, so
nothing here retires a character or suspends the service (tests/companion/test_notices.py covers
the end date over real sockets)."""
import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from browser_helpers import choose_language, login, open_chat
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

SERVICE_TZ = ZoneInfo("Asia/Shanghai")  # TIME_ZONE: what a datetime-local field means to the server


def signed_in(new_context, username: str, language: str = "en"):
    page = new_context("zh-CN" if language == "zh-hans" else "en-US").new_page()
    login(page, username)
    if page.locator("html").get_attribute("lang") != language:
        choose_language(page, language)
    return page


def local_input(delta: dt.timedelta) -> str:
    return (dt.datetime.now(SERVICE_TZ) + delta).strftime("%Y-%m-%dT%H:%M")


def test_a_scheduled_persona_change_reaches_the_user_and_cancelling_removes_it(new_context):
    user = signed_in(new_context, "adult")
    open_chat(user, "mentor")  # the notice is for people who talked with the character

    officer = signed_in(new_context, "compliance")
    officer.goto("/compliance/notices/")
    form = officer.get_by_test_id("schedule-form")
    form.locator("select[name=kind]").select_option("major_change")
    form.locator("select[name=character]").select_option("mentor")
    form.locator("input[name=effective_at]").fill(local_input(dt.timedelta(days=6)))
    form.locator("input[name=title_en]").fill("Mentor's persona is changing")
    form.locator("input[name=title_zh]").fill("导师的人设将调整")
    form.locator("textarea[name=body_en]").fill("Mentor will focus on study habits.")
    form.locator("textarea[name=body_zh]").fill("导师将侧重学习习惯。")
    form.get_by_test_id("schedule").click()
    # Six days is inside the 7-day notice period: refused, the form says why.
    expect(form).to_contain_text("at least 7 days ahead")
    form.locator("input[name=effective_at]").fill(local_input(dt.timedelta(days=8)))
    form.get_by_test_id("schedule").click()
    row = officer.get_by_test_id("notice-list").locator("tr", has_text="Mentor's persona is changing")
    expect(row).to_have_attribute("data-phase", "pending")
    try:
        user.goto("/")
        banner = user.get_by_test_id("notice-banner").filter(has_text="Mentor's persona is changing")
        expect(banner).to_contain_text("This change takes effect on")
        banner.get_by_role("link").click()
        expect(user).to_have_url(re.compile(r"/notices/#notice-"))
        expect(user.get_by_test_id("notice").filter(has_text="Mentor will focus on study habits.")
               .get_by_test_id("export-html")).to_have_attribute("href", "/chat/mentor/export.html")
        open_chat(user, "mentor")
        expect(user.locator("#chat li.msg-system").filter(has_text="Mentor's persona is changing")).to_contain_text(
            "/chat/mentor/export.html")

        choose_language(user, "zh-hans")
        expect(user.get_by_test_id("notice-banner").filter(has_text="导师的人设将调整")).to_contain_text("生效")
    finally:
        row.get_by_test_id("cancel-notice").click()
    expect(officer.get_by_test_id("notice-list").locator("tr", has_text="Mentor's persona is changing")
           ).to_have_attribute("data-phase", "cancelled")
    user.goto("/")
    expect(user.get_by_test_id("notice-banner").filter(has_text="导师的人设将调整")).to_have_count(0)


def test_an_outage_statement_shows_a_banner_and_a_status_entry_until_resolved(new_context):
    officer = signed_in(new_context, "compliance")
    officer.goto("/compliance/notices/")
    form = officer.get_by_test_id("incident-form")
    form.locator("input[name=started_at]").fill(local_input(-dt.timedelta(minutes=20)))
    form.locator("input[name=title_en]").fill("Replies are failing")
    form.locator("input[name=title_zh]").fill("回复暂时失败")
    form.locator("textarea[name=statement_en]").fill("The model service is down; we are restoring it.")
    form.locator("textarea[name=statement_zh]").fill("模型服务中断，我们正在恢复。")
    form.get_by_test_id("open-incident").click()
    row = officer.get_by_test_id("incident-list").locator("tr", has_text="Replies are failing")
    try:
        visitor = new_context("en-US").new_page()
        visitor.goto("/")
        visitor.get_by_test_id("incident-banner").filter(has_text="Replies are failing").get_by_role("link").click()
        expect(visitor).to_have_url(re.compile(r"/status/$"))
        expect(visitor.get_by_test_id("incident").filter(has_text="Replies are failing")).to_have_attribute(
            "data-open", "true")
    finally:
        row.locator("textarea[name$=note_en]").fill("An expired certificate; renewed and now monitored.")
        row.locator("textarea[name$=note_zh]").fill("证书过期，已更新并加强监控。")
        row.get_by_test_id("resolve-incident").click()
    visitor.goto("/status/")
    entry = visitor.get_by_test_id("incident").filter(has_text="Replies are failing")
    expect(entry).to_have_attribute("data-open", "false")
    expect(entry.get_by_test_id("incident-note")).to_have_text("An expired certificate; renewed and now monitored.")
    expect(visitor.get_by_test_id("incident-banner")).to_have_count(0)
