"""CN-DAT-04/05/09 in the browser: a person prepares a copy of their data in the privacy centre, the
ZIP opens and holds every conversation with its AI labels, then they delete all conversations.
(The canary search across every store after deletion is tests/companion/test_privacy.py, BX-10.)"""
import io
import json
import zipfile

import pytest
from browser_helpers import choose_language, login, open_chat, send_message, wait_for_reply
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

EXPORT_TIMEOUT_MS = 30_000  # a Celery worker builds it under CI; the page refreshes every 3 s


@pytest.mark.parametrize("language, locale", [("zh-hans", "zh-CN")])
def test_a_copy_of_my_data_downloads_with_every_conversation_and_then_i_delete_them(new_context, language, locale):
    page = new_context(locale).new_page()
    login(page, "guardian")  # a demo account no other browser test chats with
    if page.locator("html").get_attribute("lang") != language:
        choose_language(page, language)
    open_chat(page, "friend")
    wait_for_reply(send_message(page, "我想把我们的聊天记录保存下来。"))

    page.get_by_test_id("nav-privacy").click()
    expect(page.get_by_test_id("consent-ledger")).to_be_visible()
    page.get_by_test_id("your-data").click()
    expect(page.get_by_test_id("conversation-row")).to_have_count(1)
    page.get_by_test_id("request-export").click()
    link = page.get_by_test_id("download-export")
    expect(link).to_be_visible(timeout=EXPORT_TIMEOUT_MS)
    with page.expect_download() as download:
        link.click()
    archive = zipfile.ZipFile(io.BytesIO(open(download.value.path(), "rb").read()))
    data = json.loads(archive.read("data.json"))
    assert data["profile"]["username"] == "guardian"
    conversations = data["conversations"]
    assert len(conversations) == 1
    ai = [message for message in conversations[0]["messages"] if message["author"] == "ai"]
    assert ai and all(message["label"] and message["aigc"] for message in ai)
    assert any(name.startswith("conversations/") for name in archive.namelist())

    page.get_by_test_id("confirm-delete-all").fill("DELETE")
    page.get_by_test_id("delete-all").click()
    expect(page.get_by_test_id("conversation-row")).to_have_count(0)
    expect(page.get_by_test_id("export-row")).to_have_count(0)  # the copy held the chats: it went too
