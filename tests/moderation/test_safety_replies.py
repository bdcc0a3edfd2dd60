"""Preset safety replies: region pack, language and category selection, only approved versions
served, two-person approval, built-in fallback (CN-CRI-02, CN-CRI-03, CN-CRI-04, CN-CRI-06,
US-CA-02, US-NY-01)."""
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.utils import translation

from moderation.library import ApprovalRefused, reset_caches
from moderation.models import SafetyTemplate, Status
from moderation.safety_replies import (SafetyReply, approve_template, create_template, draft_new_version,
                                       retire_template, safety_reply, update_template)
from tests.moderation.test_library import with_role

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_templates(settings):
    settings.MODERATION_LIBRARY_REFRESH_SECONDS = 0
    reset_caches()
    yield
    reset_caches()


@pytest.fixture
def officers():
    return with_role("compliance"), with_role("compliance")


def contacts(reply: SafetyReply) -> list[str]:
    return [item["contact"] for item in reply.resources]


def seeded(**key) -> SafetyTemplate:
    return SafetyTemplate.objects.get(seeded=True, **{"category": "", **key})


def test_cn_high_risk_reply_lists_the_three_numbers():
    """CN-CRI-04: comfort, a person being brought in, and 12356, 120, 110."""
    reply = safety_reply(level="high_risk", categories=("suicide",), language="zh-hans", region="CN")
    template = seeded(level="high_risk", language="zh-hans", region="CN")
    assert reply.text == template.text and reply.template_id == template.pk and reply.version == 1
    assert reply.key == "high_risk/*/zh-hans/CN"
    assert contacts(reply) == ["12356", "120", "110"] and "安全团队" in reply.text


def test_cn_distress_reply_comforts_and_gives_12356():
    """CN-CRI-02: comfort and encouragement to seek help; the card lists 12356."""
    reply = safety_reply(level="distress", categories=(), language="en", region="CN")
    assert "12356" in contacts(reply) and "You don't have to carry it alone" in reply.text


def test_property_loss_gets_the_anti_scam_checklist():
    """CN-CRI-04: property risk adds stopping transfers and the 96110 anti-fraud line."""
    reply = safety_reply(level="high_risk", categories=("property_loss",), language="zh-hans", region="CN")
    assert reply.key == "high_risk/property_loss/zh-hans/CN"
    assert "96110" in contacts(reply) and "110" in contacts(reply) and "停止转账" in reply.text
    mixed = safety_reply(level="crisis", categories=("suicide", "property_loss"), language="en", region="CN")
    assert mixed.key == "crisis/property_loss/en/CN"  # the first category with a template of its own


@pytest.mark.parametrize("region", ["US-CA", "US-NY"])
def test_us_users_are_referred_to_988_and_the_crisis_text_line(region):
    """US-CA-02, US-NY-01."""
    reply = safety_reply(level="crisis", categories=("suicide",), language="en", region=region)
    assert reply.key == "crisis/*/en/US" and contacts(reply) == ["988", "741741", "911"]
    assert "988" in reply.text and "HOME to 741741" in reply.text


@pytest.mark.parametrize(("region", "language", "expected"), [
    ("EU", "en", "112"), ("OTHER", "zh-hans", "112"), ("nowhere", "en", "112"), ("US-NY", "zh", "988"),
])
def test_region_and_language_select_the_pack(region, language, expected):
    reply = safety_reply(level="fallback", categories=(), language=language, region=region)
    assert contacts(reply)[0] == expected and reply.version == 1
    assert reply.key.split("/")[2] == ("zh-hans" if language.startswith("zh") else "en")


def test_fallback_urges_calling_now():
    reply = safety_reply(level="fallback", categories=(), language="en", region="CN")
    assert "don't wait" in reply.text and contacts(reply) == ["12356", "120", "110"]


def test_unapproved_new_version_has_no_effect_until_a_second_officer_approves(
        officers, django_capture_on_commit_callbacks):
    """CN-CRI-03 acceptance: the high_risk reply equals the active approved text; an unapproved
    edit has no effect."""
    author, approver = officers
    current = seeded(level="high_risk", language="en", region="CN")
    draft = draft_new_version(author=author, template_id=current.pk, text="Revised wording, call 12356.",
                              resources=[{"name": "Hotline", "contact": "12356"}])
    assert draft.version == 2 and draft.status == Status.DRAFT
    assert safety_reply(level="high_risk", categories=(), language="en", region="CN").text == current.text

    with translation.override("en"), pytest.raises(ApprovalRefused, match="Two-person rule"):
        approve_template(approver=author, template_id=draft.pk)
    with pytest.raises(PermissionDenied):
        approve_template(approver=with_role("operator"), template_id=draft.pk)
    with django_capture_on_commit_callbacks(execute=True):
        approve_template(approver=approver, template_id=draft.pk)

    reply = safety_reply(level="high_risk", categories=(), language="en", region="CN")
    assert (reply.text, reply.version, reply.template_id) == ("Revised wording, call 12356.", 2, draft.pk)
    assert contacts(reply) == ["12356"]

    # A newer draft again changes nothing; retiring v2 brings back v1.
    draft_new_version(author=author, template_id=draft.pk, text="Third try", resources=[])
    assert safety_reply(level="high_risk", categories=(), language="en", region="CN").version == 2
    with django_capture_on_commit_callbacks(execute=True):
        retire_template(user=approver, template_id=draft.pk)
    assert safety_reply(level="high_risk", categories=(), language="en", region="CN").text == current.text


def test_builtin_text_when_nothing_is_approved(officers, django_capture_on_commit_callbacks):
    """Chat never breaks: without an approved template a built-in text (version 0) is served."""
    template = seeded(level="crisis", language="en", region="US")
    with django_capture_on_commit_callbacks(execute=True):
        retire_template(user=officers[0], template_id=template.pk)
    reply = safety_reply(level="crisis", categories=("suicide",), language="en", region="US-CA")
    assert reply.version == 0 and reply.template_id is None and reply.key == "builtin:crisis/*/en/US"
    assert "safety team" in reply.text and contacts(reply) == ["988", "741741", "911"]


def test_category_template_for_a_new_key(officers, django_capture_on_commit_callbacks):
    author, approver = officers
    template = create_template(author=author, level="high_risk", category="violence", language="en", region="EU",
                               text="Please step away from the situation and call 112.",
                               resources=[{"name": "Emergency", "contact": "112"}])
    assert template.version == 1
    assert safety_reply(level="high_risk", categories=("violence",), language="en", region="EU").key == \
        "high_risk/*/en/EU"
    with django_capture_on_commit_callbacks(execute=True):
        approve_template(approver=approver, template_id=template.pk)
    assert safety_reply(level="high_risk", categories=("violence",), language="en", region="EU").key == \
        "high_risk/violence/en/EU"


def test_replies_are_independent_copies():
    first = safety_reply(level="crisis", categories=(), language="en", region="CN")
    first.resources[0]["contact"] = "000"
    assert safety_reply(level="crisis", categories=(), language="en", region="CN").resources[0]["contact"] == "12356"


def test_unknown_level_is_an_error():
    with pytest.raises(ValueError):
        safety_reply(level="panic", categories=(), language="en", region="CN")


@pytest.mark.parametrize("resources", [
    [{"name": "", "contact": "110"}], [{"name": "Police"}], ["110"], [{"name": "x", "contact": "1"}] * 9,
])
def test_resources_are_validated(officers, resources):
    with pytest.raises(ValidationError):
        create_template(author=officers[0], level="crisis", category="", language="en", region="EU", text="Call.",
                        resources=resources)


def test_only_drafts_can_be_edited(officers):
    with pytest.raises(ApprovalRefused):
        update_template(user=officers[0], template_id=seeded(level="crisis", language="en", region="CN").pk,
                        text="changed", resources=[])


def test_new_version_page_prefills_and_saves_a_draft(officers, django_capture_on_commit_callbacks):
    author, approver = officers
    source = seeded(level="distress", language="zh-hans", region="CN")
    client = Client()
    client.force_login(author)
    form = client.get(f"/compliance/replies/{source.pk}/new-version/").content.decode()
    assert "全国心理援助热线 | 12356" in form and source.text[:20] in form

    response = client.post(f"/compliance/replies/{source.pk}/new-version/", {
        "text": "新版本：请拨打 12356。", "resources": "全国心理援助热线 | 12356\n急救｜120\n", "note": "wording review"})
    draft = SafetyTemplate.objects.get(region="CN", language="zh-hans", level="distress", version=2)
    assert response["Location"] == f"/compliance/replies/{draft.pk}/"
    assert draft.resources == [{"name": "全国心理援助热线", "contact": "12356"}, {"name": "急救", "contact": "120"}]

    bad = client.post(f"/compliance/replies/{source.pk}/new-version/", {"text": "x", "resources": "no separator"},
                      HTTP_ACCEPT_LANGUAGE="en")
    assert bad.status_code == 200 and "Line 1" in bad.content.decode()

    client.force_login(approver)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/compliance/replies/{draft.pk}/approve/")
    assert safety_reply(level="distress", categories=(), language="zh", region="CN").text == "新版本：请拨打 12356。"
    page = client.get(f"/compliance/replies/{draft.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "In service" in page and "v1" in page and "v2" in page
