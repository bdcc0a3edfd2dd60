"""Compliance pages of the feature library and safety replies over real HTTP: who may see and do
what, the two-person rule enforced server-side, validation and both interface languages
(CN-CON-03, CN-CRI-03)."""
import pytest
from django.test import Client

from moderation.library import create_term, reset_caches
from moderation.models import FeatureTerm, LibraryVersion, SafetyTemplate, Status
from moderation.safety_replies import draft_new_version
from tests.fixtures import UserFactory
from tests.moderation.test_library import TERM, inbound, with_role

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_library(settings):
    settings.MODERATION_LIBRARY_REFRESH_SECONDS = 0
    reset_caches()
    yield
    reset_caches()


@pytest.fixture
def officer():
    return with_role("compliance", username="officer_a")


@pytest.fixture
def second_officer():
    return with_role("compliance", username="officer_b")


@pytest.fixture
def entries(officer):
    """A seeded term and template, plus a draft of each written by `officer`."""
    template = SafetyTemplate.objects.filter(seeded=True, region="CN", language="zh-hans", level="crisis",
                                             category="").get()
    return {
        "term": FeatureTerm.objects.filter(seeded=True).first().pk,
        "draft_term": create_term(author=officer, text="冒充客服退款", **TERM).pk,
        "template": template.pk,
        "draft_template": draft_new_version(author=officer, template_id=template.pk, text="新的措辞",
                                            resources=template.resources).pk,
    }


READ_PAGES = ["/compliance/", "/compliance/library/", "/compliance/library/{term}/", "/compliance/library/versions/",
              "/compliance/library/versions/?library=safety_replies", "/compliance/replies/",
              "/compliance/replies/{template}/", "/compliance/library/?category=suicide&status=approved&q=自杀",
              "/compliance/replies/?region=US&language=en&level=crisis"]
WRITE_PAGES = ["/compliance/library/new/", "/compliance/library/{draft_term}/edit/", "/compliance/replies/new/",
               "/compliance/replies/{template}/new-version/", "/compliance/replies/{draft_template}/edit/"]
ACTIONS = ["/compliance/library/{draft_term}/approve/", "/compliance/library/{term}/retire/",
           "/compliance/replies/{draft_template}/approve/", "/compliance/replies/{template}/retire/"]
ROLES = [None, "user", "guardian", "operator", "regulator", "compliance"]


def client_for(role: str | None, **extra) -> Client:
    client = Client(**extra)
    if role is not None:
        client.force_login(with_role(role))
    return client


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", READ_PAGES + WRITE_PAGES)
def test_page_permissions(role, page, entries):
    url = page.format(**entries)
    response = client_for(role).get(url)
    if role is None:
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")
    elif role == "compliance" or (role in ("operator", "regulator") and page in READ_PAGES):
        assert response.status_code == 200
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ACTIONS)
def test_action_permissions(role, action, entries, django_capture_on_commit_callbacks):
    url = action.format(**entries)
    client = client_for(role)
    assert client.get(url).status_code == 405
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)
    if role is None:
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    elif role == "compliance":
        assert response.status_code == 302 and "/compliance/" in response["Location"]
    else:
        assert response.status_code == 403


def test_read_only_roles_see_no_edit_controls(entries):
    page = client_for("regulator").get(f"/compliance/library/{entries['draft_term']}/",
                                       HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Read-only access" in page and 'data-testid="approve"' not in page and "Edit draft" not in page


def test_author_cannot_approve_over_http(officer, entries):
    client = Client()
    client.force_login(officer)
    response = client.post(f"/compliance/library/{entries['draft_term']}/approve/", follow=True,
                           HTTP_ACCEPT_LANGUAGE="en")
    assert "Two-person rule: the author of a draft cannot approve it." in response.content.decode()
    assert FeatureTerm.objects.get(pk=entries["draft_term"]).status == Status.DRAFT
    detail = client.get(f"/compliance/library/{entries['draft_term']}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-testid="approve"' not in detail and "another compliance officer must approve" in detail


def test_csrf_is_required_for_approval(second_officer, entries):
    client = Client(enforce_csrf_checks=True)
    client.force_login(second_officer)
    assert client.post(f"/compliance/library/{entries['draft_term']}/approve/").status_code == 403
    assert FeatureTerm.objects.get(pk=entries["draft_term"]).status == Status.DRAFT


def test_create_then_second_officer_approves_and_it_screens(officer, second_officer,
                                                           django_capture_on_commit_callbacks):
    client = Client()
    client.force_login(officer)
    form = {"text": "Refund Agent Fee", "match_kind": "literal", "category": "property_loss", "level": "high_risk",
            "direction": "inbound", "language": "en", "weight": "0.8", "note": "seen in reports"}
    response = client.post("/compliance/library/new/", form)
    term = FeatureTerm.objects.get(text="refund agent fee")
    assert response.status_code == 302 and response["Location"] == f"/compliance/library/{term.pk}/"
    assert term.status == Status.DRAFT and term.author == officer
    assert inbound("pay the refund agent fee", language="en").categories == ()

    client.force_login(second_officer)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/compliance/library/{term.pk}/approve/")
    term.refresh_from_db()
    assert term.status == Status.APPROVED and term.approver == second_officer
    assert inbound("pay the refund agent fee", language="en").categories == ("property_loss",)
    history = client.get("/compliance/library/versions/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    latest = LibraryVersion.objects.filter(library="features").order_by("-number").first()
    assert f"approved term #{term.pk}" in history and "officer_b" in history and latest.published_by == second_officer


@pytest.mark.parametrize(("text", "kind", "message"), [
    ("(a+)+", "regex", "Nested quantifiers"),
    ("[oops", "regex", "does not compile"),
    (".*", "regex", "matches empty text"),
    ("死", "literal", "at least 2 characters"),
    ("x" * 201, "literal", "at most 200 characters"),
])
def test_term_form_rejects_bad_input(officer, text, kind, message):
    client = Client()
    client.force_login(officer)
    form = {"text": text, "match_kind": kind, "category": "prohibited", "level": "high_risk",
            "direction": "both", "language": "any", "weight": "1"}
    response = client.post("/compliance/library/new/", form, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and message in response.content.decode()
    assert not FeatureTerm.objects.filter(author=officer).exists()


def test_duplicate_active_term_is_refused(officer):
    client = Client()
    client.force_login(officer)
    form = {"text": "安全账户", "match_kind": "literal", "category": "property_loss", "level": "high_risk",
            "direction": "both", "language": "zh", "weight": "1"}
    response = client.post("/compliance/library/new/", form, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and "already has this text" in response.content.decode()


def test_approved_terms_cannot_be_edited(officer, entries):
    client = Client()
    client.force_login(officer)
    response = client.get(f"/compliance/library/{entries['term']}/edit/", follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert "Only drafts can be edited" in response.content.decode()


def test_list_filters(entries):
    client = client_for("operator")
    page = client.get("/compliance/library/?category=property_loss&status=draft").content.decode()
    assert "冒充客服退款" in page and "安全账户" not in page
    page = client.get("/compliance/library/?q=安全").content.decode()
    assert "安全账户" in page and "冒充客服退款" not in page
    page = client.get("/compliance/library/?status=nonsense").content.decode()  # invalid filter: ignored
    assert "安全账户" in page


def test_pages_render_in_english_and_chinese(entries):
    client = client_for("compliance")
    english = client.get("/compliance/library/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'lang="en"' in english and "Feature library" in english and "Sign out" in english
    client.cookies["django_language"] = "zh-hans"
    chinese = client.get("/compliance/replies/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'lang="zh-hans"' in chinese and "退出登录" in chinese
    detail = client.get(f"/compliance/replies/{entries['template']}/").content.decode()
    assert "12356" in detail and "全国心理援助热线" in detail and 'lang="zh-hans"' in detail


def test_chinese_speaking_officer_gets_chinese_pages():
    client = Client()
    client.force_login(with_role("compliance", language="zh-hans"))
    page = client.get("/compliance/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'lang="zh-hans"' in page and "退出登录" in page


def test_anonymous_and_plain_users_never_see_the_library():
    assert Client().get("/compliance/library/").status_code == 302
    client = Client()
    client.force_login(UserFactory())
    assert client.get("/compliance/library/").status_code == 403
