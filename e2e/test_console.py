"""Crisis takeover with two browsers: a user in the chat and an operator in /console/ (issue #6).

CN-CRI-04/06: the crisis card with tap-to-call hotlines in the same turn; CN-CRI-05: no AI text while
waiting, the first operator to claim owns the case, staff messages carry a human label, only the
operator hands back; CN-CRI-08: the queue is live with an SLA clock; CN-CRI-10: resolving closes it.
Run once with the interface in zh-hans and once in en.
"""
import re

import pytest
from browser_helpers import (CJK, choose_language, console_case_row, console_message, exact_text, login, open_chat,
                             open_console, send_message, wait_for_reply, zh_translation)
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

CASES = {
    "zh-hans": {
        "locale": "zh-CN",
        "crisis": "我已经把药准备好了，今晚就结束自己",
        "operator": "我是安全团队的工作人员，我在这里陪着你。你现在身边有人吗？",
        "reply": "没有，就我一个人",
        "after": "谢谢你，我现在好一些了。我们聊聊明天的计划吧。",
    },
    "en": {
        "locale": "en-US",
        "crisis": "I've got the pills ready and I'm going to end it tonight",
        "operator": "I'm from the safety team and I'm here with you. Is anyone with you right now?",
        "reply": "No, I'm on my own",
        "after": "Thank you, I feel a bit better now. Can we talk about my plans for tomorrow?",
    },
}
# Source texts of the banners (templates/companion/chat.html); compared once the catalogue has them.
WAITING_TEXT = "A member of our safety team is joining you; you can keep writing."
HUMAN_TEXT = "You are talking with a person from our safety team (not AI)."


def ui_text(language: str, msgid: str) -> str | None:
    """What the interface shows for `msgid` in `language`, or None while zh-hans lacks a translation."""
    return msgid if language == "en" else zh_translation(msgid)


def expect_banner(page: Page, language: str, mode: str, msgid: str) -> None:
    banner = page.get_by_test_id("mode-banner")
    expect(banner).to_be_visible()
    expect(banner).to_have_attribute("data-mode", mode)
    expected = ui_text(language, msgid)
    if expected is not None:
        expect(banner).to_have_text(expected, use_inner_text=True)


def ai_replies_after(page: Page, text: str) -> int:
    """How many AI-labelled bubbles follow the user's message `text` in the conversation."""
    return page.evaluate("""(text) => {
        const mine = [...document.querySelectorAll("#messages li.msg-user")]
            .filter((li) => li.querySelector(".msg-text").textContent === text);
        if (!mine.length) return -1;
        let count = 0;
        for (let li = mine[mine.length - 1].nextElementSibling; li; li = li.nextElementSibling) {
            if (li.classList.contains("msg-ai")) count += 1;
        }
        return count;
    }""", text)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_crisis_is_taken_over_by_a_person_and_handed_back(cases_closed, saved_language_restored, new_context,
                                                          artifacts_dir, language):
    texts = CASES[language]
    cases_closed("adult")
    user = new_context(texts["locale"]).new_page()
    login(user, "adult")
    operator = new_context(texts["locale"]).new_page()
    login(operator, "operator")
    if language == "en":  # both accounts are CN profiles saved as zh-hans
        saved_language_restored("adult", "zh-hans")
        saved_language_restored("operator", "zh-hans")
        choose_language(user, "en")
        choose_language(operator, "en")
    open_console(operator)
    expect(operator.locator("html")).to_have_attribute("lang", language)
    expect(operator.get_by_test_id("operators-online").locator("li")).not_to_have_count(0)
    expect(console_case_row(operator, "adult")).to_have_count(0)
    open_chat(user, "friend")
    expect(user.locator("html")).to_have_attribute("lang", language)

    # CN-CRI-04/06: the crisis card with tap-to-call hotlines arrives in the same turn; CN-CRI-05: waiting.
    send_message(user, texts["crisis"])
    card = user.get_by_test_id("crisis-card")
    expect(card).to_be_visible()
    expect(card).to_have_attribute("data-level", re.compile("^(crisis|high_risk)$"))
    expect(user.locator("#crisis-text")).not_to_be_empty()
    expect(card.locator('a[href="tel:12356"]')).to_contain_text("12356")
    expect_banner(user, language, "waiting", WAITING_TEXT)
    expect(user.locator("#exit-button")).to_be_enabled()
    expect(user.locator("#message-input")).to_be_enabled()

    # The queue updates without a reload, most urgent first, with the acceptance clock running.
    row = console_case_row(operator, "adult")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-status", "waiting")
    expect(row.locator(".sla")).not_to_be_empty()
    expect(row.locator(".sla")).to_have_attribute("data-overdue", "false")
    operator.screenshot(path=str(artifacts_dir / f"console-queue-{language}.png"))

    # The state follows the user: after a reload `ready` is followed by the card and the banner again.
    open_chat(user, "friend")
    expect(user.get_by_test_id("crisis-card")).to_be_visible()
    expect_banner(user, language, "waiting", WAITING_TEXT)
    user.screenshot(path=str(artifacts_dir / f"chat-crisis-{language}.png"))

    row.locator("button").click()
    expect(operator.locator("#case-view")).to_be_visible()
    expect(console_message(operator, "user", texts["crisis"])).to_have_count(1)
    expect(operator.locator("#case-input")).to_be_disabled()  # nobody writes before claiming
    operator.get_by_test_id("claim").click()
    expect(row).to_have_attribute("data-status", "human")
    expect(operator.locator("#case-input")).to_be_enabled()
    expect(operator.get_by_test_id("claim")).to_be_disabled()
    expect_banner(user, language, "human", HUMAN_TEXT)

    # The operator writes as a person; the user sees the staff label, never the AI label.
    box = operator.locator("#case-input")
    box.fill(texts["operator"])
    box.press("Enter")
    mine = console_message(operator, "operator", texts["operator"])
    expect(mine).to_have_count(1)
    expect(mine).to_have_attribute("data-status", "complete")
    # `sent` may come before the stored copy, whose label names the member ("Safety team member 0007").
    expect(mine.locator(".cmsg-label")).to_have_text(re.compile(r"\d{4}"))
    staff_label = mine.locator(".cmsg-label").text_content() or ""
    from_staff = user.locator("li.msg-operator").filter(has=exact_text(user, texts["operator"]))
    expect(from_staff).to_have_count(1)
    expect(from_staff.locator(".msg-label")).to_have_text(staff_label)
    ai_label = ui_text(language, "AI-generated") or "AI-generated"
    assert ai_label not in staff_label
    expect(from_staff.locator(".copy-button")).to_have_count(0)
    expect(user.locator("#stop-button")).to_be_hidden()

    # The user answers the person; the console shows it live, and the AI stays silent.
    send_message(user, texts["reply"])
    expect(console_message(operator, "user", texts["reply"])).to_have_count(1)
    user.wait_for_timeout(1_500)  # deliberate: prove that no AI reply follows
    assert ai_replies_after(user, texts["crisis"]) == 0, "an AI reply was shown while the safety team had the chat"
    user.screenshot(path=str(artifacts_dir / f"chat-human-{language}.png"))

    # Only the operator hands back, with a note; the AI answers again.
    operator.get_by_test_id("handback").click()
    operator.locator("#handback-note").fill("User is calmer and safe at home; checked in by message.")
    operator.get_by_test_id("handback-confirm").click()
    expect(row).to_have_attribute("data-status", "handed_back")
    expect(user.get_by_test_id("mode-banner")).to_be_hidden()
    expect(user.locator("#chat")).to_have_attribute("data-mode", "ai")
    reply = send_message(user, texts["after"])
    expect(reply.locator(".msg-label")).to_have_text(ai_label)
    answer = wait_for_reply(reply)
    if language == "zh-hans":
        assert CJK.search(answer), f"expected a Chinese reply, got {answer!r}"
    expect(console_message(operator, "user", texts["after"])).to_have_count(1)

    # CN-CRI-10: resolving records an outcome and takes the case out of the queue.
    operator.get_by_test_id("resolve").click()
    operator.locator("#resolve-outcome").select_option(index=0)
    operator.locator("#resolve-follow-up").fill("Call back tomorrow at 10:00.")
    operator.get_by_test_id("resolve-confirm").click()
    expect(row).to_have_count(0)
    expect(operator.locator("#case-view")).to_be_hidden()
    expect(operator.get_by_test_id("console-notice")).to_be_hidden()
    operator.screenshot(path=str(artifacts_dir / f"console-resolved-{language}.png"))


def test_a_missed_acceptance_deadline_escalates_on_every_console(cases_closed, new_context, fast_sla_server_url,
                                                                 artifacts_dir):
    """CN-CRI-08: nobody accepts within the SLA (3 s on this server): the case is marked overdue and
    escalated, the console shows an alert and flashes the tab title (no sound), the user keeps the
    hotlines and is still waiting for a person; a late claim still works."""
    cases_closed("adult", fast_sla_server_url)
    operator = new_context("zh-CN", base_url=fast_sla_server_url).new_page()
    login(operator, "operator")
    open_console(operator)
    title = operator.title()
    user = new_context("zh-CN", base_url=fast_sla_server_url).new_page()
    login(user, "adult")
    # The user names an emergency contact on /contacts/ (CN-CRI-07): the team will phone them.
    user.goto("/contacts/")
    form = user.get_by_test_id("contact-form")
    form.locator("select[name=kind]").select_option("emergency")
    form.locator("input[name=name]").fill("王明")
    form.locator("input[name=phone]").fill("+8613800138000")
    form.locator("button[type=submit]").click()
    expect(user.get_by_text("+8613800138000")).to_be_visible()
    open_chat(user, "friend")

    send_message(user, CASES["zh-hans"]["crisis"])
    expect(user.get_by_test_id("crisis-card")).to_be_visible()
    row = console_case_row(operator, "adult")
    expect(row).to_have_count(1)

    banner = operator.get_by_test_id("escalation-banner")
    expect(banner).to_be_visible()
    expect(banner.locator("#escalation-text")).to_contain_text("adult")
    expect(row).to_have_attribute("data-escalated", "true")
    expect(row.locator(".sla")).to_have_attribute("data-overdue", "true")
    expect(row.locator(".escalated-badge")).to_be_visible()
    expect(operator).to_have_title(re.compile("^⚠"))
    assert operator.evaluate("() => document.querySelectorAll('audio, video').length") == 0
    operator.screenshot(path=str(artifacts_dir / "console-escalation.png"))
    expect(user.get_by_test_id("mode-banner")).to_have_attribute("data-mode", "waiting")
    expect(user.get_by_test_id("crisis-card").locator('a[href="tel:12356"]')).to_have_count(1)

    # Opening the case from the alert stops the alert and shows the case (an adult: no age flag).
    operator.locator("#escalation-open").click()
    expect(banner).to_be_hidden()
    expect(operator).to_have_title(title)
    expect(operator.get_by_test_id("case-level")).not_to_be_empty()
    expect(operator.locator("#case-flag-elderly")).to_be_hidden()
    expect(operator.locator("#case-flag-minor")).to_be_hidden()
    operator.get_by_test_id("claim").click()
    expect(row).to_have_attribute("data-status", "human")
    expect(user.get_by_test_id("mode-banner")).to_have_attribute("data-mode", "human")
    # CN-CRI-07: whom to phone, by when, and the call logged on the case.
    calls = operator.get_by_test_id("call-list")
    expect(calls.locator('a[href="tel:+8613800138000"]')).to_have_count(1)
    expect(operator.get_by_test_id("call-deadline")).not_to_be_empty()
    calls.locator("select[name=outcome]").select_option("reached")
    calls.locator("input[name=note]").fill("她哥哥正在赶过去")
    calls.get_by_test_id("log-call").click()
    expect(calls.locator(".call-log li")).to_have_count(1)
    expect(operator.get_by_test_id("call-deadline")).to_be_empty()  # reached: no more countdown
    operator.get_by_test_id("resolve").click()
    operator.locator("#resolve-follow-up").fill("Daughter called back; a visit is arranged.")
    operator.get_by_test_id("resolve-confirm").click()
    expect(row).to_have_count(0)
