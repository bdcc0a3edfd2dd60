"""CN-CMP-01/02 in the browser: a user reports an AI reply from the chat, a compliance officer answers
within the deadline and resolves it, and the user reads the answer; a safety-related report nobody
took up in time shows as overdue in the queue (the e2e server sets the triage time to 0 minutes)."""
import re

import pytest
from browser_helpers import choose_language, login, open_chat, send_message, wait_for_reply
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

TEXTS = {
    "en": {"question": "Can you recommend something to cheer me up?",
           "complaint": "This reply made me feel pressured; please look at it.",
           "answer": "Thank you. We reviewed the reply and adjusted the character.",
           "resolved": "Resolved", "report": "The character told my friend how to hurt herself."},
    "zh-hans": {"question": "你能推荐点让我开心的事吗？",
                "complaint": "这条回复让我感到有压力，请看一下。",
                "answer": "谢谢你的反馈。我们核查了这条回复并调整了角色。",
                "resolved": "已结案", "report": "这个角色教我朋友怎么伤害自己。"},
}


def signed_in(new_context, username: str, language: str):
    page = new_context("zh-CN" if language == "zh-hans" else "en-US").new_page()
    login(page, username)
    if page.locator("html").get_attribute("lang") != language:
        choose_language(page, language)
    return page


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_reported_reply_is_answered_and_the_user_sees_the_answer(new_context, language):
    text = TEXTS[language]
    user = signed_in(new_context, "adult", language)
    open_chat(user, "friend")
    reply = send_message(user, text["question"])
    replied = wait_for_reply(reply)

    report = reply.get_by_test_id("report-message")
    expect(report).to_be_visible()
    report.click()
    expect(user.get_by_test_id("reported-message")).to_contain_text(replied.strip()[:20])
    form = user.get_by_test_id("complaint-form")
    form.locator("input[name=kind][value=complaint]").check()
    form.locator("select[name=category]").select_option("manipulation")
    form.locator("textarea[name=text]").fill(text["complaint"])
    form.get_by_test_id("submit-complaint").click()
    expect(user).to_have_url(re.compile(r"/help/complaints/[0-9a-f-]{36}/$"))
    status_url = user.url
    reference = re.search(r"HV-\d{6}", user.locator("h1").text_content()).group(0)
    expect(user.get_by_test_id("complaint-status")).to_be_visible()

    officer = signed_in(new_context, "compliance", language)
    officer.goto("/compliance/complaints/")
    officer.get_by_test_id("complaint-queue").get_by_role("link", name=reference).click()
    expect(officer.get_by_test_id("complained-message")).to_contain_text(replied.strip()[:20])
    officer.get_by_test_id("assign").click()
    officer.locator("form[action$='/answer/'] textarea[name=answer]").fill(text["answer"])
    officer.get_by_test_id("send-answer").click()
    expect(officer.get_by_test_id("current-answer")).to_have_text(text["answer"])
    officer.locator("form[action$='/resolve/'] select[name=outcome]").select_option("upheld")
    officer.get_by_test_id("resolve").click()
    expect(officer.get_by_test_id("staff-status")).to_contain_text(text["resolved"])

    user.goto(status_url)
    expect(user.get_by_test_id("status")).to_have_text(text["resolved"])
    expect(user.get_by_test_id("answer")).to_contain_text(text["answer"])
    user.goto("/help/complaints/")
    expect(user.get_by_test_id("my-complaints")).to_contain_text(reference)


def test_a_safety_report_without_an_account_shows_overdue_in_the_queue(new_context):
    visitor = new_context("en-US").new_page()
    visitor.goto("/")
    visitor.get_by_test_id("footer-complaints").click()
    expect(visitor.get_by_test_id("deadlines")).to_be_visible()
    visitor.get_by_test_id("new-complaint").click()
    form = visitor.get_by_test_id("complaint-form")
    form.locator("select[name=target]").select_option("character")
    form.locator("select[name=character]").select_option("friend")
    form.locator("select[name=category]").select_option("self_harm")
    form.locator("textarea[name=text]").fill(TEXTS["en"]["report"])
    form.get_by_test_id("submit-complaint").click()
    expect(visitor).to_have_url(re.compile(r"/help/complaints/[0-9a-f-]{36}/$"))
    reference = re.search(r"HV-\d{6}", visitor.locator("h1").text_content()).group(0)

    officer = signed_in(new_context, "compliance", "en")
    officer.goto("/compliance/complaints/?overdue=on")
    row = officer.get_by_test_id("complaint-queue").locator("tr", has_text=reference)
    expect(row).to_have_attribute("data-overdue", "triage")
    expect(row).to_contain_text("not taken up in time")
