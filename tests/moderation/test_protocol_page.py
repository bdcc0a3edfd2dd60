"""The public crisis-protocol page (US-CA-02: publish the protocol; US-NY-01; CN-CRI-02..08):
readable logged out in both languages, built from the safety templates served now."""
import pytest
from django.test import Client
from django.urls import reverse

from moderation.models import SafetyTemplate, Status
from moderation.safety_replies import approve_template, draft_new_version, retire_template
from tests.moderation.test_library import with_role

pytestmark = [pytest.mark.django_db]

TREVOR = {"name": "Trevor Lifeline (LGBTQ+ youth)", "contact": "18664887386"}


def page(language: str) -> str:
    response = Client(headers={"accept-language": language}).get(reverse("safety_protocol"))
    assert response.status_code == 200
    return response.content.decode()


def seeded(**key) -> SafetyTemplate:
    return SafetyTemplate.objects.get(seeded=True, category="", **key)


def pack_table(html: str, pack: str) -> str:
    start = html.index(f'data-pack="{pack}"')
    return html[start:html.index("</table>", start)]


def test_the_page_is_public_at_safety():
    assert reverse("safety_protocol") == "/safety/"
    response = Client().get("/safety/")
    assert response.status_code == 200 and response.templates[0].name == "moderation/protocol.html"


@pytest.mark.parametrize(("language", "cn_line", "us_line"), [
    ("en", "National psychological assistance hotline", "988 Suicide &amp; Crisis Lifeline (call or text)"),
    ("zh-hans", "全国心理援助热线", "988 自杀与危机生命线（可拨打或发短信）"),
])
def test_renders_logged_out_in_both_languages_with_12356_and_988(language, cn_line, us_line):
    html = page(language)
    assert f'<html lang="{language}">' in html
    cn, us = pack_table(html, "CN"), pack_table(html, "US")
    assert "12356" in cn and "120" in cn and "110" in cn and cn_line in cn
    assert "988" in us and "741741" in us and "911" in us and us_line in us
    assert 'href="tel:12356"' in cn and 'href="tel:988"' in us
    assert "112" in pack_table(html, "EU") and "112" in pack_table(html, "OTHER")
    assert "v1" in cn  # the seeded templates' version


def test_the_page_explains_detection_levels_team_and_notices():
    html = page("en")
    assert "checked for signs of risk before any AI reply is generated" in html
    for level in ("Distress", "High risk", "Crisis"):
        assert f'<th scope="row">{level}</th>' in html
    assert "never told what was said in the chat" in html


@pytest.mark.parametrize(("seconds", "shown"), [(60, "within 1 minute."), (180, "within 3 minutes."),
                                                (45, "within 45 seconds.")])
def test_the_response_target_comes_from_the_sla_setting(settings, seconds, shown):
    settings.COMPANION_CRISIS_SLA_SECONDS = seconds
    assert shown in page("en")


def test_remote_screening_is_mentioned_only_when_configured(settings):
    settings.MODERATION_PROVIDERS = []
    assert "additional automated screening service" not in page("en")
    settings.MODERATION_PROVIDERS = ["openai"]
    assert "additional automated screening service" in page("en")


def test_a_newer_approved_template_is_published_and_a_draft_is_not():
    """CN-CRI-03: only approved versions are served, so only they are published (US-CA-02)."""
    author, approver = with_role("compliance"), with_role("compliance")
    current = seeded(level="high_risk", language="en", region="US")
    draft = draft_new_version(author=author, template_id=current.pk, text=current.text,
                              resources=[*current.resources, TREVOR])
    assert draft.version == 2 and draft.status == Status.DRAFT
    us = pack_table(page("en"), "US")
    assert TREVOR["contact"] not in us and "v2" not in us and "v1" in us

    approve_template(approver=approver, template_id=draft.pk)
    us = pack_table(page("en"), "US")
    assert TREVOR["name"] in us and TREVOR["contact"] in us and "v2" in us
    assert TREVOR["contact"] not in pack_table(page("zh-hans"), "US")  # the English template only
    assert TREVOR["contact"] not in pack_table(page("en"), "CN")


def test_with_no_approved_template_the_built_in_text_is_published():
    """Chat falls back to the built-in text (version 0); the page says so."""
    officer = with_role("compliance")
    retire_template(user=officer, template_id=seeded(level="crisis", language="en", region="EU").pk)
    eu = pack_table(page("en"), "EU")
    assert "v0" in eu and "112" in eu and "v1" in eu  # built-in crisis, seeded high_risk still served


def test_post_is_refused():
    assert Client().post("/safety/").status_code == 405
