"""The read-only regulator site /regulator/ (CN-GOV-06, BX-09) and its figures and self-assessment
report (CN-GOV-03, CN-GOV-04): who may enter, that nothing can be written through it, that its
figures are live and counted right, that every read is audited and that people appear only by
pseudonym.

Records are made through the real services (chat, crisis console, sanctions) where they exist.
"""
import datetime as dt
import re

import pytest
from django.contrib.auth.models import Group
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, User
from accounts.policies import age_band, age_on
from companion import regulator
from companion import regulator_figures as figures
from companion.crisis import claim_case, hand_back, log_contact_call, resolve_case
from companion.complaints import file_complaint
from companion.models import Author, CaseEventKind, Character, Complaint, Conversation, CrisisCase, Message, Sanction
from companion.protocol import staff_number
from companion.sanctions import impose_sanction, pseudonym
from companion.services import open_chat, post_user_message
from guardians.models import Notification
from guardians.services import add_contact
from moderation.models import FeatureTerm, LibraryVersion, SafetyTemplate
from tests.fixtures import UserFactory

pytestmark = pytest.mark.django_db

CRISIS_EN = "I can't do this anymore. I've got the pills ready and I'm going to end it tonight."
HANDBACK_NOTE = "Spoke with her about her sister Meiling, calmer now"
FOLLOW_UP = "Called back at home on Huaihai Road"
CALL_NOTE = "Mum answered on the second ring"
FILING = "Beijing-Algorithm-110108-2026-0042"
REGISTERED = (Character, LibraryVersion, FeatureTerm, SafetyTemplate, CrisisCase, Notification, Sanction, Complaint,
              AuditEvent)


def staff_user(role: str, **kwargs) -> User:
    user = UserFactory(**kwargs)
    user.groups.add(Group.objects.get(name=role))
    return user


def client_for(user: User | None = None, language: str = "en") -> Client:
    client = Client()
    client.cookies["django_language"] = language  # the picked language wins over the account's
    if user is not None:
        client.force_login(user)
    return client


def figure(html: str, key: str) -> str:
    """The value cell of the figure row `key` on the dashboard or in the report."""
    match = re.search(rf'<tr data-figure="{key}"[^>]*>\s*<th[^>]*>.*?</th>\s*<td class="value">(.*?)</td>',
                      html, re.S)
    assert match, f"no figure {key}"
    return match.group(1).strip()


def flag(html: str, key: str) -> str:
    match = re.search(rf'<tr data-figure="{key}" data-flag="(\w+)"', html)
    assert match, f"no flag on {key}"
    return match.group(1)


def admin_url(model, view: str, *args) -> str:
    return reverse(f"regulator:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def regulator_user(demo) -> User:
    return User.objects.get(username="regulator")


@pytest.fixture
def reg(regulator_user) -> Client:
    return client_for(regulator_user)


@pytest.fixture
def operator(demo) -> User:
    return staff_user("operator", username="op_wu")


@pytest.fixture
def at_risk(demo) -> User:
    user = UserFactory(username="xiaoyu_private", email="xiaoyu.private@example.com", language="en")
    add_contact(user=user, kind="emergency", name="Mum Li", email="mum.li@example.com", language="en")
    return user


def post(user: User, text: str, capture) -> Message:
    """A user message through the chat service; its on-commit work (AI reply, deliveries) is dropped."""
    with capture():
        opening = open_chat(user=user, character_slug="friend", session_key="s", language="en")
        post_user_message(user=user, conversation_id=opening.conversation.pk, text=text,
                          client_id=f"c{Message.objects.count()}", language="en")
    return Message.objects.filter(conversation__user=user, author=Author.USER).latest("id")


@pytest.fixture
def handled_case(at_risk, operator, django_capture_on_commit_callbacks) -> CrisisCase:
    """A crisis case taken over, called about, handed back and resolved, with free text at each step."""
    post(at_risk, CRISIS_EN, django_capture_on_commit_callbacks)
    case = CrisisCase.objects.get(user=at_risk)
    case_id = str(case.public_id)
    with django_capture_on_commit_callbacks():
        claim_case(operator=operator, case_id=case_id)
        contact = at_risk.safety_contacts.get()
        log_contact_call(operator=operator, case_id=case_id, contact_id=contact.pk, outcome="reached", note=CALL_NOTE)
        hand_back(operator=operator, case_id=case_id, note=HANDBACK_NOTE)
        resolve_case(operator=operator, case_id=case_id, outcome="safe", follow_up=FOLLOW_UP)
    case.refresh_from_db()
    return case


@pytest.fixture
def records(handled_case, demo, django_capture_on_commit_callbacks) -> dict:
    """One row of every model the site shows."""
    compliance = staff_user("compliance")
    with django_capture_on_commit_callbacks():
        sanction = impose_sanction(actor=compliance, kind="restrict", reason="Repeated threats to staff",
                                   evidence=[], case_id=str(handled_case.public_id))
    version = LibraryVersion.objects.create(library="features", number=900, summary="Regulator test version",
                                            published_by=compliance)
    with django_capture_on_commit_callbacks():
        complaint = file_complaint(user=handled_case.user, kind="complaint", target="service", category="service",
                                   text="Secret complaint text 4471", language="en")
    return {Character: Character.objects.get(slug="friend"), LibraryVersion: version,
            FeatureTerm: FeatureTerm.objects.first(), SafetyTemplate: SafetyTemplate.objects.first(),
            CrisisCase: handled_case, Notification: Notification.objects.filter(user=handled_case.user).first(),
            Sanction: sanction, Complaint: complaint, AuditEvent: AuditEvent.objects.order_by("-id").first()}


# --- read-only ------------------------------------------------------------------------------------

def test_the_site_registers_exactly_the_models_these_tests_cover():
    assert set(regulator.site._registry) == set(REGISTERED)


@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model._meta.label)
def test_every_write_url_and_form_is_refused_and_nothing_changes(model, records, reg):
    obj = records[model]
    assert obj is not None
    # Reading the site adds `regulator.viewed` rows to the audit log: that is all it may add.
    rows = model.objects.exclude(action="regulator.viewed") if model is AuditEvent else model.objects.all()
    before = (rows.count(), model_to_dict(model.objects.get(pk=obj.pk)))
    changelist, change = admin_url(model, "changelist"), admin_url(model, "change", obj.pk)
    add, delete = admin_url(model, "add"), admin_url(model, "delete", obj.pk)
    history = admin_url(model, "history", obj.pk)

    assert reg.get(changelist).status_code == 200
    page = reg.get(change)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="_save"' not in html and 'name="_continue"' not in html and "deletelink" not in html
    for url in (add, delete, history):
        assert reg.get(url).status_code == 403, url

    some_field = next(f.name for f in model._meta.concrete_fields if not f.primary_key and f.editable)
    posts = [
        (changelist, {"action": "delete_selected", "_selected_action": [obj.pk], "index": "0", "post": "yes"}),
        (changelist, {"_save": "Save", "form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-0-id": obj.pk}),
        (change, {some_field: "changed by regulator", "_save": "Save"}),
        (add, {some_field: "added by regulator", "_save": "Save"}),
        (delete, {"post": "yes"}),
        (history, {}),
    ]
    for url, data in posts:
        assert reg.post(url, data).status_code == 403, url
    for method in (reg.put, reg.patch, reg.delete):
        assert method(change).status_code == 403

    assert (rows.count(), model_to_dict(model.objects.get(pk=obj.pk))) == before


@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model._meta.label)
def test_every_model_admin_refuses_writes_itself(model, regulator_user, rf):
    """The second wall, behind the GET-only site: the model admins grant nothing but viewing."""
    request = rf.get("/regulator/")
    request.user = regulator_user
    model_admin = regulator.site._registry[model]
    assert model_admin.has_view_permission(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert model_admin.get_actions(request) == {}
    for inline in model_admin.get_inline_instances(request):
        assert not (inline.has_add_permission(request, None) or inline.has_change_permission(request)
                    or inline.has_delete_permission(request))


def test_no_page_of_the_site_accepts_a_post_except_signing_out(records, reg):
    pages = [reverse("regulator:index"), reverse("regulator:report"), reverse("regulator:jsi18n"),
             reverse("regulator:login"), *(reverse("regulator:app_list", args=[app]) for app in
                                           ("companion", "moderation", "guardians", "accounts"))]
    for url in pages:
        assert reg.post(url, {"anything": "1"}).status_code == 403, url
    page = reg.get(reverse("regulator:index")).content.decode()
    assert "password_change" not in page and "/regulator/password_change/" not in page
    assert reg.get("/regulator/password_change/").status_code == 404
    assert reg.get("/regulator/autocomplete/").status_code == 404

    response = reg.post(reverse("regulator:logout"))
    assert response.status_code == 200
    assert reg.get(reverse("regulator:index")).status_code == 302  # signed out


def test_changelists_list_the_records_without_write_controls(records, reg):
    for model, obj in records.items():
        html = reg.get(admin_url(model, "changelist")).content.decode()
        assert admin_url(model, "change", obj.pk) in html, model
        assert "action-checkbox" not in html and "delete_selected" not in html
        assert admin_url(model, "add") not in html


def test_characters_show_their_persona_prompts(records, reg):
    friend = records[Character]
    html = reg.get(admin_url(Character, "change", friend.pk)).content.decode()
    assert friend.persona_en in html and friend.persona_zh in html


# --- who may enter ----------------------------------------------------------------------------------

def test_anonymous_visitors_are_sent_to_the_main_sign_in(records):
    client = Client()
    for url in (reverse("regulator:index"), reverse("regulator:report"),
                admin_url(CrisisCase, "change", records[CrisisCase].pk)):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("regulator:login"))
    response = client.get(reverse("regulator:login") + "?next=/regulator/companion/")
    assert response.status_code == 302
    assert response.url == reverse("account_login") + "?next=/regulator/companion/"
    response = client.get(reverse("regulator:login") + "?next=https://evil.example/")
    assert response.url == reverse("account_login") + "?next=/regulator/"
    assert client.post(reverse("regulator:index")).status_code == 403


@pytest.mark.parametrize("username", ["adult", "minor16", "guardian", "operator", "compliance", "admin"])
def test_signed_in_users_without_the_regulator_role_get_403(username, records):
    client = client_for(User.objects.get(username=username))
    before = AuditEvent.objects.filter(action="regulator.viewed").count()
    for url in (reverse("regulator:index"), reverse("regulator:login"), reverse("regulator:report"),
                admin_url(CrisisCase, "changelist"), admin_url(AuditEvent, "changelist"),
                admin_url(CrisisCase, "change", records[CrisisCase].pk)):
        assert client.get(url).status_code == 403, url
        assert client.post(url, {"post": "yes"}).status_code == 403, url
    assert AuditEvent.objects.filter(action="regulator.viewed").count() == before


def test_a_deactivated_regulator_cannot_enter(regulator_user):
    client = client_for(regulator_user)
    User.objects.filter(pk=regulator_user.pk).update(is_active=False)
    response = client.get(reverse("regulator:index"))
    assert response.status_code in (302, 403)
    assert b"data-figure" not in response.content


def test_a_regulator_signing_in_lands_on_the_dashboard(regulator_user):
    client = client_for(regulator_user)
    assert client.get(reverse("regulator:login")).url == reverse("regulator:index")


# --- figures ------------------------------------------------------------------------------------------

def test_the_demo_population_is_counted_by_band_without_staff(reg):
    """Demo users: adult 30, minor13, minor16, elder 72, teen_ca 15, guardian 42; operator, compliance,
    regulator and admin are staff and not counted."""
    html = reg.get(reverse("regulator:index")).content.decode()
    assert figure(html, "registered") == "6"
    assert figure(html, "minors") == "3"
    assert [figure(html, f"age_{band}") for band in ("child", "minor", "adult", "elderly")] == ["1", "2", "2", "1"]


def test_the_dashboard_shows_live_figures(reg, operator, django_capture_on_commit_callbacks):
    def read():
        html = reg.get(reverse("regulator:index")).content.decode()
        return {key: int(figure(html, key)) for key in
                ("registered", "monthly_active", "messages", "minors", "age_child", "age_elderly", "cases_total",
                 "cases_open", "takeovers_total", "takeovers_recent")}

    before = read()
    today = timezone.localdate()
    talker = UserFactory(language="en")
    UserFactory(birth_date=today - dt.timedelta(days=365 * 10), contacts=False)  # a child
    UserFactory(birth_date=today - dt.timedelta(days=365 * 65))  # elderly
    quiet = UserFactory(language="en")
    old = post(quiet, "Hello there, how are you?", django_capture_on_commit_callbacks)
    Message.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=31))
    post(talker, "Hello there, how are you?", django_capture_on_commit_callbacks)
    post(talker, "Tell me a story", django_capture_on_commit_callbacks)
    at_risk = UserFactory(language="en")
    post(at_risk, CRISIS_EN, django_capture_on_commit_callbacks)
    middle = read()
    with django_capture_on_commit_callbacks():
        claim_case(operator=operator, case_id=str(CrisisCase.objects.get(user=at_risk).public_id))
    after = read()

    assert middle["registered"] - before["registered"] == 5
    assert middle["monthly_active"] - before["monthly_active"] == 2  # talker and at_risk; quiet wrote 31 days ago
    assert middle["messages"] - before["messages"] == 3
    assert middle["age_child"] - before["age_child"] == 1 and middle["minors"] - before["minors"] == 1
    assert middle["age_elderly"] - before["age_elderly"] == 1
    assert (middle["cases_total"] - before["cases_total"], middle["cases_open"] - before["cases_open"]) == (1, 1)
    assert middle["takeovers_total"] == before["takeovers_total"]
    assert after["takeovers_total"] - middle["takeovers_total"] == 1
    assert after["takeovers_recent"] - middle["takeovers_recent"] == 1


def test_dashboard_charts_are_server_side_svg_under_the_csp(handled_case, reg):
    response = reg.get(reverse("regulator:index"))
    html = response.content.decode()
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert html.count('class="chart-bar"') >= 10
    assert ' style="' not in html and "<style" not in html
    assert all("src=" in tag or 'type="application/json"' in tag for tag in re.findall(r"<script[^>]*>", html))
    month = timezone.localtime().strftime("%Y-%m")
    crisis = re.search(r'data-section="crisis".*?</section>', html, re.S).group(0)
    assert re.search(rf"<th scope=\"row\">{month}</th><td>1</td><td>1</td>", crisis)


def test_thresholds_are_flagged_at_80_percent_and_at_the_threshold(monkeypatch, reg):
    assert regulator.threshold_flag(799_999, 1_000_000) == "below"
    assert regulator.threshold_flag(800_000, 1_000_000) == "approaching"
    assert regulator.threshold_flag(999_999, 1_000_000) == "approaching"
    assert regulator.threshold_flag(1_000_000, 1_000_000) == "required"
    assert regulator.threshold_flag(100_000, 100_000) == "required"

    html = reg.get(reverse("regulator:index")).content.decode()
    registered = int(figure(html, "registered"))
    assert (flag(html, "registered"), flag(html, "monthly_active")) == ("below", "below")
    monkeypatch.setattr(regulator, "REGISTERED_THRESHOLD", registered)
    monkeypatch.setattr(regulator, "MONTHLY_ACTIVE_THRESHOLD", registered + 1)
    html = reg.get(reverse("regulator:index")).content.decode()
    assert flag(html, "registered") == "required"
    assert "security assessment required" in html
    monkeypatch.setattr(regulator, "REGISTERED_THRESHOLD", registered + 1)
    html = reg.get(reverse("regulator:index")).content.decode()
    assert flag(html, "registered") == "approaching"


@pytest.mark.parametrize("today", [dt.date(2026, 2, 28), dt.date(2026, 3, 1), dt.date(2028, 2, 29),
                                   dt.date(2026, 7, 15)])
def test_age_bands_in_sql_agree_with_the_age_policy(demo, today):
    before = figures.age_structure(today=today)
    births = [None]
    for years in (14, 18, 60):
        anniversary = figures.years_before(today, years)
        births += [anniversary - dt.timedelta(days=1), anniversary, anniversary + dt.timedelta(days=1)]
    births += [dt.date(today.year - 18, 2, 28), dt.date(2008, 2, 29), dt.date(2012, 2, 29), dt.date(1966, 2, 28)]
    for birth in births:
        UserFactory(birth_date=birth, contacts=False)
    expected = {band: 0 for band in ("child", "minor", "adult", "elderly")}
    for birth in births:
        expected[age_band(None if birth is None else age_on(birth, today))] += 1
    after = figures.age_structure(today=today)
    assert {band: after[band] - before[band] for band in after} == expected


# --- the report ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("language, title, required", [
    ("en", "Security self-assessment report", "security assessment required"),
    ("zh-hans", "安全自评估报告", "须开展安全评估"),
])
def test_the_report_downloads_with_live_figures_and_threshold_flags(language, title, required, monkeypatch, settings,
                                                                     handled_case, regulator_user):
    settings.COMPANION_ALGORITHM_FILING_NUMBER = FILING
    client = client_for(regulator_user, language)
    response = client.get(reverse("regulator:report"))
    assert response.status_code == 200
    assert re.fullmatch(r'attachment; filename="self-assessment-\d{8}-\d{4}\.html"', response["Content-Disposition"])
    html = response.content.decode()
    assert f'lang="{language}"' in html and title in html
    assert FILING in html and settings.COMPANION_SERVICE_NAME in html and settings.COMPANION_PROVIDER_CODE in html
    for key in ("registered", "monthly_active", "minors", "takeovers_total", "cases_total"):
        figure(html, key)
    registered = int(figure(html, "registered"))
    assert registered == figures.service_users().count()
    assert int(figure(html, "cases_total")) == 1 and int(figure(html, "takeovers_total")) == 1
    assert int(figure(html, "complaints_total")) == 0  # CN-CMP-04 feeds the assessment
    file_complaint(user=None, kind="report", target="service", category="fraud", text="A scam offer.",
                   language="en")
    assert int(figure(client.get(reverse("regulator:report")).content.decode(), "complaints_total")) == 1
    assert flag(html, "registered") == "below" and required not in html
    assert "<svg" in html and "<style>" in html and ".chart-bar" in html  # prints without our server

    UserFactory()
    monkeypatch.setattr(regulator, "REGISTERED_THRESHOLD", registered + 1)
    monkeypatch.setattr(regulator, "MONTHLY_ACTIVE_THRESHOLD", 1)
    html = client.get(reverse("regulator:report")).content.decode()
    assert int(figure(html, "registered")) == registered + 1
    assert flag(html, "registered") == "required" and flag(html, "monthly_active") == "required"
    assert required in html


# --- audit and privacy --------------------------------------------------------------------------------

def test_every_page_view_is_audited(records, reg, regulator_user):
    case = records[CrisisCase]
    start = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
    reg.get(reverse("regulator:index"))
    reg.get(admin_url(CrisisCase, "changelist"))
    reg.get(admin_url(CrisisCase, "change", case.pk))
    reg.get(reverse("regulator:report"))
    reg.get(admin_url(CrisisCase, "add"))  # refused: nothing was shown
    reg.post(admin_url(CrisisCase, "change", case.pk), {"level": "distress"})
    rows = list(AuditEvent.objects.filter(id__gt=start, action="regulator.viewed").order_by("id"))
    assert [(row.data["page"], row.data["status"]) for row in rows] == [
        ("index", 200), ("companion_crisiscase_changelist", 200), ("companion_crisiscase_change", 200),
        ("report", 200)]
    assert {row.actor_id for row in rows} == {regulator_user.pk}
    assert (rows[2].subject_type, rows[2].subject_id) == ("companion.crisiscase", str(case.pk))


def test_people_appear_only_by_pseudonym_and_no_written_text_is_shown(records, reg, at_risk, operator):
    case = records[CrisisCase]
    trigger_text = Message.objects.get(pk=case.trigger_id).text
    assert trigger_text == CRISIS_EN
    assert Conversation.objects.filter(user=at_risk).exists()
    pages = [admin_url(CrisisCase, "changelist"), admin_url(CrisisCase, "change", case.pk),
             admin_url(Notification, "changelist"), admin_url(Notification, "change", records[Notification].pk),
             admin_url(Sanction, "change", records[Sanction].pk), admin_url(AuditEvent, "changelist"),
             admin_url(Complaint, "changelist"), admin_url(Complaint, "change", records[Complaint].pk)]
    for url in pages:
        html = reg.get(url).content.decode()
        for secret in (at_risk.username, at_risk.email, operator.username, "mum.li@example.com", "Mum Li",
                       CRISIS_EN, "I&#x27;ve got the pills", HANDBACK_NOTE, FOLLOW_UP, CALL_NOTE,
                       "Secret complaint text 4471"):
            assert secret not in html, (url, secret)
    audit_page = reg.get(admin_url(AuditEvent, "changelist")).content.decode()
    assert AuditEvent.objects.filter(ip="127.0.0.1").exists() and "127.0.0.1" not in audit_page
    html = reg.get(admin_url(CrisisCase, "change", case.pk)).content.decode()
    assert pseudonym(at_risk.pk) in html and staff_number(operator.pk) in html
    events = re.findall(r'<td class="field-kind">\s*<p>(.*?)</p>', html)
    assert len(events) == case.events.count() >= 6
    assert str(CaseEventKind.CLAIMED.label) in events


def test_the_footer_shows_the_filing_number_and_the_ai_label_on_every_page(records, reg, settings):
    settings.COMPANION_ALGORITHM_FILING_NUMBER = FILING
    for url in (reverse("regulator:index"), reverse("regulator:app_list", args=["companion"]),
                admin_url(CrisisCase, "changelist"), admin_url(Character, "change", records[Character].pk)):
        html = reg.get(url).content.decode()
        footer = re.search(r'data-testid="regulator-footer">(.*?)</div>', html, re.S).group(1)
        assert FILING in footer and "Characters on this service are artificial intelligence" in footer, url
