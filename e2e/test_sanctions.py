"""CN-CRI-09 in the browser: a compliance officer suspends a user from a safety case; the user's open
chat closes at once with the reason and how to appeal, and reopening it shows the same notice."""
import re

import pytest
from browser_helpers import console_case_row, login, open_chat, open_console, send_message
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("locale", ["en-US"])
def test_compliance_suspends_a_user_from_a_case_and_the_chat_closes_with_the_appeal(new_context, locale):
    user = new_context(locale).new_page()
    login(user, "teen_ca")
    open_chat(user, "friend")
    send_message(user, "I've got the pills ready and I'm going to end it tonight")
    expect(user.get_by_test_id("crisis-card")).to_be_visible()

    officer = new_context(locale).new_page()
    login(officer, "compliance")
    open_console(officer)
    row = console_case_row(officer, "teen_ca")
    expect(row).to_have_count(1)
    row.locator("button").click()
    officer.get_by_test_id("sanction-link").click()
    expect(officer).to_have_url(re.compile(r"/console/sanctions/\?case="))
    form = officer.get_by_test_id("impose-form")
    expect(form.locator("textarea[name=evidence]")).not_to_be_empty()  # the case and its trigger message
    form.locator("select[name=kind]").select_option("suspend")
    form.locator("input[name=days]").fill("1")
    form.locator("textarea[name=reason]").fill("Repeated threats against other users during the drill.")
    form.locator("button[type=submit]").click()

    closed = user.locator("#closed-panel")
    expect(closed).to_be_visible()
    expect(user.locator("#closed-text")).to_contain_text("suspended")
    expect(user.locator("#closed-text")).to_contain_text("Repeated threats")
    expect(user.get_by_test_id("appeal-link")).to_have_attribute("href", re.compile(r"/help/complaints/new/\?kind=appeal"))
    response = user.goto("/chat/friend/")
    assert response is not None and response.status == 403
    expect(user.locator("main")).to_contain_text("appeal")

    # Lift it again and close the case, so the account is as the other tests expect.
    officer.goto("/console/sanctions/?status=active")
    lift = officer.locator("form[action*='/lift/']").first
    lift.locator("input[name$='-reason']").fill("Appeal upheld.")
    lift.locator("button[type=submit]").click()
    expect(officer.locator("form[action*='/lift/']")).to_have_count(0)
    open_console(officer)
    row = console_case_row(officer, "teen_ca")
    row.locator("button").click()
    officer.get_by_test_id("claim").click()
    officer.get_by_test_id("resolve").click()
    officer.get_by_test_id("resolve-confirm").click()
    expect(row).to_have_count(0)
    open_chat(user, "friend")
