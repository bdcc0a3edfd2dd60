"""Page actions shared by the browser tests."""
import gettext
import re
import secrets
import time
from datetime import date, timedelta
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
    chat_opened(page)


def chat_opened(page: Page) -> None:
    """The chat page on screen (however it was reached) is live; dismiss the pop-ups that open it."""
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


# --- sign-up, texts and mail ----------------------------------------------------------------

PASSWORD = "Harbour-lantern-7391"
_URL = re.compile(r"https?://\S+")
_CONTACT_LINK = re.compile(r"https?://[^/\s]+(/contact/\d+/[0-9a-f]+/)")


def birth_date_for_age(years: int) -> str:
    """A birth date (ISO) `years` and a few weeks ago, clear of any birthday edge."""
    today = date.today()
    return (today.replace(year=today.year - years, day=1) - timedelta(days=20)).isoformat()


def new_mobile() -> str:
    """A fresh mainland mobile number (11 digits, no +86), so runs never collide."""
    return f"13{secrets.choice('6789')}{secrets.randbelow(10 ** 8):08d}"


def sign_up(page: Page, *, username: str, birth_date: str, mobile: str, open_form: bool = True) -> None:
    """Create an account with the sign-up form (CN-REG-01/02/04) as a new person does; `open_form=False`
    when a link already brought the page to the form."""
    if open_form:
        page.goto("/accounts/signup/")
    form = page.locator("form:has(input[name=password1])")
    form.locator("input[name=email]").fill(f"{username}@example.com")
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=password1]").fill(PASSWORD)
    form.locator("input[name=password2]").fill(PASSWORD)
    form.locator("input[name=birth_date]").fill(birth_date)
    form.locator("select[name=region]").select_option("CN")
    form.locator("input[name=phone]").fill(mobile)
    form.locator("input[name=accept_terms]").check()
    form.locator("input[name=accept_sensitive]").check()
    with page.expect_navigation():
        form.locator("[type=submit]").click()
    expect(page.get_by_test_id("whoami")).to_have_text(username)


def verify_phone(page: Page, gateway, mobile: str) -> None:
    """On the phone code page (CN-REG-04): type the code texted to `mobile` and press Verify."""
    expect(page.get_by_test_id("code-sent-to")).to_contain_text(f"+86{mobile}")
    page.locator("input[name=code]").fill(code_in(texted(gateway, f"+86{mobile}")))
    with page.expect_navigation():
        page.get_by_test_id("verify-code").click()


def texted(gateway, to: str, timeout: float = 10) -> str:
    """The newest text the server sent to `to` (E.164) through the local gateway, polled for."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for request in reversed(list(gateway.requests)):
            if request["json"].get("to") == to:
                return request["json"]["text"]
        time.sleep(0.05)
    raise AssertionError(f"no text to {to} reached the gateway in {timeout}s")


def code_in(text: str) -> str:
    """The six-digit code in a text: six digits standing alone, outside any link. (Not `\\b`: Chinese
    text puts no word boundary before a number; names and link tokens may hold digit runs.)"""
    found = re.search(r"(?<![0-9A-Za-z])(\d{6})(?![0-9A-Za-z])", _URL.sub(" ", text))
    assert found, f"no six-digit code in {text!r}"
    return found.group(1)


def mailed(sink, to: str, timeout: float = 10):
    """The newest message the server mailed to `to` through the local SMTP sink, polled for."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in reversed(list(sink.messages)):
            if to in message.rcpt_tos:
                return message
        time.sleep(0.05)
    raise AssertionError(f"no mail to {to} reached the SMTP sink in {timeout}s")


def contact_link(text: str) -> str:
    """The path of the confirm-or-decline link in an invitation (BX-13), `/contact/<id>/<token>/`.
    The message carries the site's public address (COMPANION_SITE_URL); the test server has its own."""
    found = _CONTACT_LINK.search(text)
    assert found, f"no /contact/<id>/<token>/ link in {text!r}"
    return found.group(1)


def add_contact(page: Page, *, kind: str, name: str, phone: str, email: str = "") -> Locator:
    """Fill in and send the "Add a contact" form on /contacts/; return the new contact's row."""
    form = page.get_by_test_id("contact-form")
    form.locator("select[name=kind]").select_option(kind)
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=email]").fill(email)
    form.locator("input[name=phone]").fill(phone)
    with page.expect_navigation():
        page.get_by_test_id("contact-add").click()
    expect(page.get_by_test_id("form-errors")).to_have_count(0)
    row = page.get_by_test_id("contact-list").locator(f"tbody tr[data-kind={kind}]").filter(has_text=name)
    expect(row).to_have_count(1)
    return row


def chat_socket_outcome(page: Page, slug: str) -> dict:
    """Open the chat socket of `slug` from the current page, as the chat script would, and report
    whether the server accepted it: {"opened": bool, "code": close code, None when it opened}."""
    return page.evaluate("""(slug) => new Promise((resolve) => {
        const scheme = location.protocol === "https:" ? "wss://" : "ws://";
        const ws = new WebSocket(scheme + location.host + "/ws/chat/" + slug + "/");
        ws.addEventListener("open", () => { resolve({opened: true, code: null}); ws.close(); });
        ws.addEventListener("close", (event) => resolve({opened: false, code: event.code}));
    })""", slug)


def translated(msgid: str, language: str) -> str:
    """What the page shows for `msgid` in `language` ("en" or "zh-hans"): the compiled catalogue's
    translation, or the English text while a string has none."""
    return msgid if language == "en" else (zh_translation(msgid) or msgid)
