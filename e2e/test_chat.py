"""Chat in a real browser: disclosure, streamed and labelled AI replies, history, exit (CN-DIS-01/04, CN-USE-03)."""
import pytest
from browser_helpers import (CJK, choose_language, exit_chat, expect_closed, expect_in_history, login, open_chat,
                             send_message, streaming_record, wait_for_reply, watch_streaming, zh_translation)
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


@pytest.fixture
def adult_language_restored(browser, server_url):
    """`adult` is shared by the tests: afterwards put its saved language back to the seeded zh-hans.

    Requested before `new_context`, so it runs after the failure screenshot, in a context of its own.
    """
    yield
    context = browser.new_context(base_url=server_url, locale="zh-CN")
    try:
        page = context.new_page()
        login(page, "adult")
        if page.locator("html").get_attribute("lang") != "zh-hans":
            choose_language(page, "zh-hans")
    finally:
        context.close()


def test_english_chat_streams_labels_keeps_history_and_exits(adult_language_restored, new_context, artifacts_dir):
    page = new_context("en-US").new_page()
    login(page, "adult")
    # `adult` is a CN profile saved as zh-hans, which wins over the browser; switch like a person would.
    choose_language(page, "en")
    open_chat(page, "friend")
    expect(page.locator("#disclosure")).to_contain_text("AI")
    assert (page.locator("#disclosure").text_content() or "").strip()

    watch_streaming(page)
    question = "Hello! I had a long day at work and feel a bit tired."
    reply = send_message(page, question)
    expect(reply.locator(".msg-label")).to_have_text("AI-generated")
    answer = wait_for_reply(reply)
    record = streaming_record(page)
    partial = [n for n in record["lengths"] if 0 < n < len(answer)]
    assert partial, f"the reply arrived in one piece, not streamed: lengths {record['lengths']}"
    assert record["stopShown"], "the Stop button was never switched on while the reply streamed"
    page.screenshot(path=str(artifacts_dir / "chat-en.png"))
    expect(page.locator("#stop-button")).to_be_hidden()
    expect(page.locator("#send-button")).to_be_enabled()

    page.reload()
    expect(page.locator("#connection-status")).to_have_attribute("data-state", "open")
    expect_in_history(page, "user", question)
    restored = expect_in_history(page, "ai", answer)
    expect(restored.locator(".msg-label")).to_have_text("AI-generated")

    exit_chat(page)


def test_chinese_chat_follows_locale_and_answers_in_chinese(new_context, artifacts_dir):
    page = new_context("zh-CN").new_page()
    page.goto("/accounts/login/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")  # Accept-Language zh-CN, signed out
    login(page, "adult")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    open_chat(page, "friend")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    assert (page.locator("#disclosure").text_content() or "").strip()

    question = "你好，今天有点累"
    reply = send_message(page, question)
    answer = wait_for_reply(reply)
    assert CJK.search(answer), f"expected a Chinese reply, got {answer!r}"
    label = zh_translation("AI-generated")
    if label is not None:
        expect(reply.locator(".msg-label")).to_have_text(label)
        expect(page.locator("#disclosure")).to_contain_text(CJK)
    else:
        expect(reply.locator(".msg-label")).to_contain_text("AI")
    page.screenshot(path=str(artifacts_dir / "chat-zh.png"))

    page.reload()
    expect(page.locator("#connection-status")).to_have_attribute("data-state", "open")
    expect_in_history(page, "user", question)
    expect_in_history(page, "ai", answer)
    exit_chat(page)


def test_exit_mid_stream_stops_the_reply_at_once(new_context):
    page = new_context("en-US").new_page()
    login(page, "adult")
    open_chat(page, "storyteller")
    reply = send_message(page, "Please tell me a long story about a lighthouse keeper and the sea.")
    text = reply.locator(".msg-text")
    expect(text).not_to_be_empty()  # the first delta is on screen
    expect(page.locator("#stop-button")).to_be_visible()

    notices_before = page.locator("li.msg-system").count()
    page.locator("#exit-button").click()
    expect(page.locator("#closed-panel")).to_be_visible(timeout=3_000)
    shown = text.text_content() or ""
    page.wait_for_timeout(500)  # deliberate: prove that nothing more arrives
    assert (text.text_content() or "") == shown, "AI text kept growing after the user exited"
    assert shown.strip()
    expect_closed(page, notices_before)

    # The server stopped too: the stored reply is the cut-off text, marked as stopped.
    page.reload()
    expect(page.locator("#connection-status")).to_have_attribute("data-state", "open")
    stored = page.locator("li.msg-ai").last
    expect(stored).to_have_attribute("data-status", "cancelled")
    stored_text = stored.locator(".msg-text").text_content() or ""
    assert stored_text.startswith(shown), f"stored {stored_text!r} does not continue shown {shown!r}"


def test_copying_an_ai_reply_keeps_its_label(new_context, server_url):
    """CN-DIS-04 / CN-DIS-06: copied AI text carries "[AI-generated · Haven]"."""
    context = new_context("en-US")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server_url)
    page = context.new_page()
    login(page, "minor16")
    choose_language(page, "en")
    open_chat(page, "mentor")
    reply = send_message(page, "How do I plan my week?")
    answer = wait_for_reply(reply)
    reply.locator(".copy-button").click()
    expect(reply.locator(".copy-button")).to_have_text("Copied with its AI label")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == answer + "\n[AI-generated · Haven]"
