"""The feature library (特征库, CN-CON-03): two-person approval, drafts without effect, retirement,
live reload within the refresh interval, normalised matching and regex validation."""
import time

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from accounts.models import User
from moderation import library
from moderation.library import (
    ApprovalRefused,
    FeatureLibrary,
    approve_term,
    clean_term_text,
    create_term,
    reset_caches,
    retire_term,
    update_term,
)
from moderation.models import FeatureTerm, Library, LibraryVersion, Status
from moderation.pipeline import ScreeningInput, screen
from tests.fixtures import UserFactory

pytestmark = pytest.mark.django_db


def with_role(*roles: str, **fields) -> User:
    """A user holding the given roles (Django groups)."""
    user = UserFactory(**fields)
    for role in roles:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture(autouse=True)
def fresh_library(settings):
    """Check the published version on every screening and start from the database each test."""
    settings.MODERATION_LIBRARY_REFRESH_SECONDS = 0
    reset_caches()
    yield
    reset_caches()


@pytest.fixture
def officers():
    return with_role("compliance"), with_role("compliance")


TERM = {"match_kind": "literal", "category": "property_loss", "level": "high_risk", "direction": "inbound",
        "language": "any", "weight": 0.9}


class Hits:
    """What the feature library found in one screening (other stages judge the same text too)."""

    def __init__(self, text: str, *, language: str = "zh-hans", direction: str = "inbound"):
        self.verdict = screen(ScreeningInput(text=text, direction=direction, language=language))
        self.finding = next((f for f in self.verdict.findings if f.stage == "feature_library"), None)
        self.categories = self.finding.categories if self.finding else ()
        self.level = self.finding.level if self.finding else "none"


def inbound(text: str, language: str = "zh-hans") -> Hits:
    return Hits(text, language=language)


def draft(author: User, text: str, **overrides) -> FeatureTerm:
    return create_term(author=author, text=text, **{**TERM, **overrides})


def approve(approver: User, term: FeatureTerm, capture) -> FeatureTerm:
    with capture(execute=True):
        return approve_term(approver=approver, term_id=term.pk)


def test_author_cannot_approve_own_draft(officers, django_capture_on_commit_callbacks):
    author, _ = officers
    term = draft(author, "扫码领取退税")
    with translation.override("en"), pytest.raises(ApprovalRefused, match="Two-person rule"):
        approve(author, term, django_capture_on_commit_callbacks)
    term.refresh_from_db()
    assert term.status == Status.DRAFT and term.approver is None
    assert inbound("请扫码领取退税").categories == ()


@pytest.mark.parametrize("role", ["operator", "regulator", "user"])
def test_only_compliance_officers_approve(officers, role, django_capture_on_commit_callbacks):
    author, _ = officers
    term = draft(author, "扫码领取退税")
    with pytest.raises(PermissionDenied):
        approve(with_role(role), term, django_capture_on_commit_callbacks)
    with pytest.raises(PermissionDenied):
        create_term(author=with_role(role), text="冒充客服退款", **TERM)
    assert FeatureTerm.objects.get(pk=term.pk).status == Status.DRAFT


def test_draft_has_no_effect_until_a_second_officer_approves(officers, django_capture_on_commit_callbacks):
    """CN-CON-03 acceptance: an unapproved term has no effect; an approved one blocks."""
    author, approver = officers
    term = draft(author, "扫码领取退税")
    assert inbound("请扫码领取退税").categories == ()
    before = library.published_number(Library.FEATURES)

    approve(approver, term, django_capture_on_commit_callbacks)

    hits = inbound("请扫码领取退税")
    assert hits.categories == ("property_loss",) and hits.level == "high_risk"
    assert hits.finding.score == pytest.approx(0.9) and hits.finding.evidence == ("扫码领取退税",)
    assert hits.verdict.at_least("high_risk")
    assert ("FeatureLibrary", str(before + 1)) in hits.verdict.versions
    version = LibraryVersion.objects.get(library=Library.FEATURES, number=before + 1)
    assert version.published_by == approver and "扫码领取退税" in version.summary
    term.refresh_from_db()
    assert term.approver == approver and term.approved_at is not None


def test_another_process_sees_an_approval_within_the_refresh_interval(settings, officers,
                                                                       django_capture_on_commit_callbacks):
    """Another process is told nothing: it finds the new version when its interval has passed."""
    settings.MODERATION_LIBRARY_REFRESH_SECONDS = 0.5
    author, approver = officers
    term = draft(author, "冒充客服退款")
    assert inbound("有人冒充客服退款").categories == ()  # loads the current version
    with django_capture_on_commit_callbacks(execute=False):  # nothing announced to this process
        approve_term(approver=approver, term_id=term.pk)

    assert inbound("有人冒充客服退款").categories == ()  # still inside the interval: a clock check only
    time.sleep(1.1)  # the interval and the shared cache entry (at least 1 s) have run out
    assert inbound("有人冒充客服退款").categories == ("property_loss",)


def test_retired_term_stops_matching(officers, django_capture_on_commit_callbacks):
    author, approver = officers
    term = approve(approver, draft(author, "刷流水解冻"), django_capture_on_commit_callbacks)
    assert inbound("需要刷流水解冻资金").categories == ("property_loss",)
    with django_capture_on_commit_callbacks(execute=True):
        retire_term(user=author, term_id=term.pk)
    assert inbound("需要刷流水解冻资金").categories == ()
    term.refresh_from_db()
    assert term.status == Status.RETIRED and term.retired_by == author and term.retired_at is not None
    with pytest.raises(ApprovalRefused):
        approve(approver, term, django_capture_on_commit_callbacks)


def test_only_drafts_can_be_edited_and_the_editor_becomes_the_author(officers, django_capture_on_commit_callbacks):
    author, other = officers
    term = draft(author, "冒充客服退款")
    update_term(user=other, term_id=term.pk, text="冒充快递客服退款", **TERM)
    term.refresh_from_db()
    assert term.text == "冒充快递客服退款" and term.author == other
    with pytest.raises(ApprovalRefused):  # the editor is now the author
        approve(other, term, django_capture_on_commit_callbacks)
    approve(author, term, django_capture_on_commit_callbacks)
    with translation.override("en"), pytest.raises(ApprovalRefused, match="Only drafts"):
        update_term(user=author, term_id=term.pk, text="别的", **TERM)


@pytest.mark.parametrize(("text", "language"), [
    ("把钱转到安 全 账 户", "zh-hans"),  # spaced out
    ("把钱转到安全.账户", "zh-hans"),  # split with filler
    ("把錢轉到安全帳戶", "zh-hans"),  # traditional
    ("MOVE IT TO A ＳＡＦＥ ＡＣＣＯＵＮＴ", "en"),  # full-width, upper case
    ("把钱转到安全-账户", "zh-hans"),
])
def test_spacing_traditional_and_width_variants_match_seeded_terms(text, language):
    hits = inbound(text, language=language)
    assert "property_loss" in hits.categories and hits.level == "high_risk"


def test_literal_terms_are_stored_normalised(officers):
    term = draft(officers[0], "  Pay With ＧＩＦＴ Cards  ", language="en")
    assert term.text == "pay with gift cards"


def test_english_terms_match_whole_words_only(officers, django_capture_on_commit_callbacks):
    author, approver = officers
    approve(approver, draft(author, "wire the deposit", language="en"), django_capture_on_commit_callbacks)
    assert inbound("Please WIRE the deposit today", language="en").categories == ("property_loss",)
    assert inbound("rewire the deposits", language="en").categories == ()


def test_direction_and_language_are_respected(officers, django_capture_on_commit_callbacks):
    author, approver = officers
    approve(approver, draft(author, "zzsq", language="zh", direction="outbound"), django_capture_on_commit_callbacks)
    assert Hits("这是 zzsq", direction="outbound").categories == ("property_loss",)
    assert inbound("这是 zzsq").categories == ()  # outbound-only term
    # A Chinese-only term does not apply to English text from an English-speaking user.
    assert Hits("this is zzsq", direction="outbound", language="en").categories == ()


def test_highest_level_wins_and_weights_add_up(officers, django_capture_on_commit_callbacks):
    author, approver = officers
    approve(approver, draft(author, "转账截图", level="distress", weight=0.3), django_capture_on_commit_callbacks)
    approve(approver, draft(author, "全部积蓄", level="crisis", weight=0.4), django_capture_on_commit_callbacks)
    finding = inbound("发了转账截图，全部积蓄都没了").finding
    assert finding.level == "crisis" and finding.score == pytest.approx(0.7)
    assert set(finding.evidence) == {"转账截图", "全部积蓄"}


def test_regex_terms_match(officers, django_capture_on_commit_callbacks):
    author, approver = officers
    approve(approver, draft(author, r"\bsend (?:me )?\d{4,6} ?codes?\b", match_kind="regex", language="en"),
            django_capture_on_commit_callbacks)
    assert inbound("ok, SEND me 123456 code now", language="en").categories == ("property_loss",)
    assert inbound("send the codes", language="en").categories == ()


@pytest.mark.parametrize(("pattern", "code"), [
    ("(a+)+$", "regex_catastrophic"),
    (r"(?:\w*\s?)*end", "regex_catastrophic"),
    ("(x|y{2,})*z", "regex_catastrophic"),
    ("[unclosed", "regex_invalid"),
    ("a*", "regex_empty"),
    ("(?P<name>abc)", "regex_named"),
    (r"(ab)\1", "regex_backreference"),
    ("a(?i)b", "regex_invalid"),
    ("x" * 201, "too_long"),
    ("   ", "required"),
])
def test_dangerous_or_broken_regexes_are_refused(pattern, code):
    with pytest.raises(ValidationError) as error:
        clean_term_text(pattern, "regex")
    assert error.value.code == code


def test_one_character_literals_are_refused():
    with pytest.raises(ValidationError) as error:
        clean_term_text(" 死 ", "literal")
    assert error.value.code == "too_short"


def test_seeded_library_covers_scams_and_prohibited_content():
    assert FeatureTerm.objects.filter(seeded=True, status=Status.APPROVED, author=None).count() >= 12
    assert inbound("他让我把钱转到安全账户").categories == ("property_loss",)
    assert inbound("They told me to use gift cards to pay the fee", language="en").categories == ("property_loss",)
    # Self-harm is the classifier's: bare seed terms would flag "我不会自杀的" (docs/safety.md).
    assert inbound("我不会自杀的，你放心").categories == ()
    assert Hits("Here is how to make a bomb", direction="outbound", language="en").categories == ("prohibited",)
    assert inbound("今天天气真好，我们去散步吧").categories == ()


def test_stage_without_its_table_screens_nothing(django_db_blocker):
    """Before migrations run the stage returns no finding instead of breaking chat."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE moderation_libraryversion RENAME TO moderation_libraryversion_away")
    try:
        reset_caches()
        assert FeatureLibrary().assess(ScreeningInput(text="我想自杀", direction="inbound",
                                                      normalised="我想自杀")) is None
        assert FeatureLibrary().version() == "0"
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE moderation_libraryversion_away RENAME TO moderation_libraryversion")


def test_library_stage_is_cheap(settings):
    """Screening runs per message and per streamed clause (pipeline budget: p99 ≤ 2 ms); between
    refreshes the library costs a clock check and one automaton pass."""
    settings.MODERATION_LIBRARY_REFRESH_SECONDS = 60
    stage = FeatureLibrary()
    texts = ["今天天气不错，我们去公园散步吧，你觉得怎么样？", "I had a long day at work and just want to relax.",
             "他让我把钱转到安全账户", "Please stay with me a little longer"]
    items = [ScreeningInput(text=t, direction=d, normalised=library.normalise(t))
             for t in texts for d in ("inbound", "outbound")]
    stage.assess(items[0])  # load
    timings = []
    for index in range(800):
        start = time.perf_counter()
        stage.assess(items[index % len(items)])
        timings.append(time.perf_counter() - start)
    timings.sort()
    assert timings[int(len(timings) * 0.99)] < 0.0005
