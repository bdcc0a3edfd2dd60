"""Page actions shared by the browser tests."""
import gettext
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.conf import settings
from playwright.sync_api import Locator, Page, expect

ROOT = Path(__file__).resolve().parent.parent
DEMO_PASSWORD = "demo-pass-2026"
REPLY_TIMEOUT_MS = 20_000  # a whole offline reply at 250 ms a clause takes 1-3 s
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def login(page: Page, username: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in. Demo staff accounts then type their authenticator code (issue #4 item 5); the server
    takes each code once per 30-second step, so later sign-ins of the same staff account in this
    run join the session its code opened instead of waiting for the next step, and sign in afresh
    only when that session has ended."""
    page.goto("/accounts/login/")
    if username in _STAFF_SESSIONS:
        site = urlsplit(page.url)
        page.context.add_cookies([{"name": _SESSION_COOKIE, "value": _STAFF_SESSIONS[username],
                                   "url": f"{site.scheme}://{site.netloc}/"}])
        page.goto("/")
        whoami = page.get_by_test_id("whoami")
        if whoami.count() == 1 and whoami.text_content() == username:
            return
        page.context.clear_cookies()
        page.goto("/accounts/login/")
    page.locator("input[name=login]").fill(username)
    page.locator("input[name=password]").fill(password)
    with page.expect_navigation():
        page.locator("input[name=password]").press("Enter")
    if urlsplit(page.url).path == "/accounts/2fa/authenticate/":
        code = page.locator("input[name=code]")
        code.fill(demo_totp_code(username))
        with page.expect_navigation():
            code.press("Enter")
        _STAFF_SESSIONS[username] = next(cookie["value"] for cookie in page.context.cookies()
                                         if cookie["name"] == _SESSION_COOKIE)
    expect(page.get_by_test_id("whoami")).to_have_text(username)


_SESSION_COOKIE = settings.SESSION_COOKIE_NAME
_STAFF_SESSIONS: dict[str, str] = {}  # username → session key opened with a code
_USED_TOTP_STEPS: set[tuple[str, int]] = set()


def demo_totp_code(username: str) -> str:
    """The current code of the demo staff secret (seed_demo), one that `username` has not used yet;
    in a step's last seconds, or when the step's code is used, the next step's (after waiting)."""
    period = mfa_settings.TOTP_PERIOD
    while True:
        now = time.time()
        step = int(now) // period
        if period - now % period > 3 and (username, step) not in _USED_TOTP_STEPS:
            _USED_TOTP_STEPS.add((username, step))
            return format_hotp_value(hotp_value(settings.ACCOUNTS_DEMO_TOTP_SECRET, step))
        time.sleep(period - now % period + 0.1)


def choose_language(page: Page, code: str) -> None:
    """Pick the interface language with the header selector, as a person would."""
    with page.expect_navigation():
        page.locator("#language-select").select_option(code)
    expect(page.locator("html")).to_have_attribute("lang", code)


def open_chat(page: Page, slug: str) -> None:
    """Open a chat and dismiss the pop-ups that open it (the AI disclosure after each login, CN-DIS-02)."""
    response = page.goto(f"/chat/{slug}/")
    assert response is not None and response.status == 200, f"/chat/{slug}/ answered {response and response.status}"
    # `ready` arrived: the history is rendered and the composer is live.
    expect(page.locator("#connection-status")).to_have_attribute("data-state", "open")
    for _ in range(int(page.locator("#chat").get_attribute("data-pending-reminders") or 0)):
        acknowledge_reminder(page)


def acknowledge_reminder(page: Page, kind: str | None = None) -> str:
    """A reminder pop-up is open (modal, so nothing else can be used); press "I understand"."""
    dialog = page.locator("#reminder-dialog")
    expect(dialog).to_be_visible()
    assert page.evaluate("() => document.getElementById('reminder-dialog').matches(':modal')")
    if kind:
        expect(dialog).to_have_attribute("data-kind", kind)
    text = page.locator("#reminder-text").text_content() or ""
    page.locator("#reminder-ack").click()
    expect(dialog).to_be_hidden()
    return text


def watch_streaming(page: Page) -> None:
    """Record, in the page, every length the streaming AI bubble had and whether Stop was shown."""
    page.evaluate("""() => {
        const seen = window.__e2e = {lengths: [], stopShown: false};
        const chat = document.getElementById("chat");
        const stop = document.getElementById("stop-button");
        const record = () => {
            for (const li of chat.querySelectorAll('li.msg-ai[data-status="streaming"]')) {
                seen.lengths.push(li.querySelector(".msg-text").textContent.length);
            }
            if (!stop.hidden) seen.stopShown = true;
        };
        new MutationObserver(record).observe(chat, {subtree: true, childList: true, characterData: true,
                                                   attributes: true});
    }""")


def streaming_record(page: Page) -> dict:
    return page.evaluate("() => window.__e2e")


def send_message(page: Page, text: str) -> Locator:
    """Type `text`, press Enter, wait for the server's ack; return the bubble the reply will fill."""
    replies_before = page.locator("li.msg-ai").count()
    box = page.locator("#message-input")
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value("")
    mine = page.locator("li.msg-user").filter(has=exact_text(page, text)).last
    expect(mine).to_have_attribute("data-status", "complete")  # message_ack
    return page.locator("li.msg-ai").nth(replies_before)


def wait_for_reply(reply: Locator) -> str:
    expect(reply).to_have_attribute("data-status", "complete", timeout=REPLY_TIMEOUT_MS)
    text = reply.locator(".msg-text").text_content() or ""
    assert text.strip(), "the AI reply is empty"
    return text


def exact_text(page: Page, text: str) -> Locator:
    return page.locator(".msg-text", has_text=re.compile(rf"^{re.escape(text)}$"))


def expect_in_history(page: Page, author: str, text: str) -> Locator:
    bubble = page.locator(f"li.msg-{author}").filter(has=exact_text(page, text))
    expect(bubble).to_have_count(1)
    return bubble


def exit_chat(page: Page) -> None:
    notices_before = page.locator("li.msg-system").count()
    page.locator("#exit-button").click()
    expect_closed(page, notices_before)


def expect_closed(page: Page, notices_before: int, timeout: float | None = None) -> None:
    """The chat is closed for good: panel shown, composer gone, the server's confirmation readable."""
    expect(page.locator("#closed-panel")).to_be_visible(timeout=timeout)
    expect(page.locator("#closed-text")).not_to_be_empty()
    expect(page.locator("#composer")).to_be_hidden()
    expect(page.locator("#exit-button")).to_be_disabled()
    # CN-USE-06: the stored confirmation ("You have ended this conversation.") arrives as a system message.
    confirmation = page.locator("li.msg-system").nth(notices_before)
    expect(confirmation.locator(".msg-text")).not_to_be_empty()


def zh_translation(msgid: str) -> str | None:
    """The compiled zh-hans translation of `msgid`, or None while the catalogue is not compiled."""
    mo = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.mo"
    if not mo.exists():
        return None
    with mo.open("rb") as handle:
        translated = gettext.GNUTranslations(handle).gettext(msgid)
    return translated if translated != msgid else None


def open_console(page: Page) -> None:
    """Open the safety console and wait until its socket delivered the first `queue` frame."""
    response = page.goto("/console/")
    assert response is not None and response.status == 200, f"/console/ answered {response and response.status}"
    expect(page.get_by_test_id("console-connection")).to_have_attribute("data-state", "open")


def console_case_row(page: Page, username: str) -> Locator:
    """The queue row of `username`'s open safety case (one open case per user)."""
    return page.locator(f'#case-queue > li.case-row[data-user="{username}"]')


def console_message(page: Page, author: str, text: str) -> Locator:
    """A message of the case opened in the console, by author (user/ai/operator/system) and exact text."""
    return page.locator(f"#case-messages > li.cmsg-{author}").filter(
        has=page.locator(".cmsg-text", has_text=re.compile(rf"^{re.escape(text)}$")))
