"""Monthly crisis statistics (CN-CRI-10): the figures equal what the raw rows say.

Cases are made through the real services (chat `post_user_message`, console `claim_case` and
`resolve_case`, the SLA fallback) at fixed moments in Asia/Shanghai, around a month boundary that
falls in a different UTC month. Delivery tasks queued on commit run later, as a worker would.
"""
import datetime as dt
import io
import json
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from companion.crisis import claim_case, resolve_case, run_sla_fallback
from companion.models import CaseEvent, CaseEventKind, CrisisCase
from companion.reports import crisis_month, month_bounds, parse_month, percentile
from companion.services import open_chat, post_user_message
from guardians.models import Notification
from guardians.services import add_contact
from tests.fixtures import UserFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
CRISIS_EN = "I can't do this anymore. I've got the pills ready and I'm going to end it tonight."
DISTRESS_EN = "I feel so lonely and sad today, nobody cares about me."


def at(*parts) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=SHANGHAI)


@pytest.fixture
def operator(demo):
    user = UserFactory(language="en")
    user.groups.add(Group.objects.get(name="operator"))
    return user


class Scene:
    """Acts through the real services at given moments; on-commit work is held and run on demand."""

    def __init__(self, capture):
        self.capture = capture
        self.pending = []

    def user(self, *, email: str = "", phone: str = ""):
        user = UserFactory(language="en")
        if email or phone:
            add_contact(user=user, kind="emergency", name="Friend", email=email, phone=phone, language="en")
        return user

    def post(self, user, moment, text=CRISIS_EN):
        with time_machine.travel(moment, tick=False), self.capture() as callbacks:
            opening = open_chat(user=user, character_slug="friend", session_key="s", language="en")
            posted = post_user_message(user=user, conversation_id=opening.conversation.pk, text=text,
                                       client_id=f"c-{moment.timestamp()}", language="en")
        self.pending += callbacks
        return CrisisCase.objects.filter(user=user).order_by("-opened_at").first() if posted.crisis else None

    def deliver(self, moment):
        """The worker picks up every queued notification now."""
        with time_machine.travel(moment, tick=False), self.capture(execute=True):
            for callback in self.pending:
                callback()
        self.pending = []

    def fallback(self, case, moment):
        with time_machine.travel(moment, tick=False), self.capture() as callbacks:
            assert run_sla_fallback(case_id=case.pk) is not None
        self.pending += callbacks

    def claim(self, operator, case, moment):
        with time_machine.travel(moment, tick=False):
            claim_case(operator=operator, case_id=str(case.public_id))

    def resolve(self, operator, case, moment, outcome):
        with time_machine.travel(moment, tick=False):
            resolve_case(operator=operator, case_id=str(case.public_id), outcome=outcome, follow_up="called back")


@pytest.fixture
def november(demo, operator, django_capture_on_commit_callbacks):
    """Three November cases (one opened a minute before December), one each side of the month."""
    scene = Scene(django_capture_on_commit_callbacks)
    a = scene.post(scene.user(email="a-friend@example.com"), at(2026, 11, 3, 10, 0, 0))
    scene.deliver(at(2026, 11, 3, 10, 0, 5))
    scene.claim(operator, a, at(2026, 11, 3, 10, 0, 20))
    scene.resolve(operator, a, at(2026, 11, 3, 10, 5, 0), "safe")

    b = scene.post(scene.user(email="b-friend@example.com", phone="+8613800138000"), at(2026, 11, 10, 9, 0, 0))
    scene.deliver(at(2026, 11, 10, 9, 0, 12))
    scene.fallback(b, at(2026, 11, 10, 9, 1, 30))  # nobody claimed within the SLA (CN-CRI-08)
    scene.deliver(at(2026, 11, 10, 9, 1, 35))
    scene.claim(operator, b, at(2026, 11, 10, 9, 2, 0))
    scene.resolve(operator, b, at(2026, 11, 10, 9, 10, 0), "referred")

    c = scene.post(scene.user(email="c-friend@example.com"), at(2026, 11, 30, 23, 59, 30))  # never delivered
    scene.claim(operator, c, at(2026, 12, 1, 0, 0, 40))
    scene.pending = []

    distressed = scene.user()  # a comfort card, not a case
    scene.post(distressed, at(2026, 11, 15, 12, 0, 0), DISTRESS_EN)
    assert not CrisisCase.objects.filter(user=distressed).exists()

    december = scene.post(scene.user(), at(2026, 12, 1, 0, 0, 10))  # 2026-11-30 16:00:10 UTC
    october = scene.post(scene.user(), at(2026, 10, 31, 23, 59, 59))
    return {"a": a, "b": b, "c": c, "december": december, "october": october}


def test_month_figures_equal_the_raw_rows(november):
    """CN-CRI-10: report figures equal raw event counts for the month."""
    report = crisis_month(2026, 11)
    start, end = month_bounds(2026, 11)
    cases = list(CrisisCase.objects.filter(opened_at__gte=start, opened_at__lt=end))
    assert {case.pk for case in cases} == {november[name].pk for name in "abc"}

    assert report["cases_opened"] == len(cases) == 3
    assert {k: v for k, v in report["cases_by_level"].items() if v} == dict(Counter(case.level for case in cases))
    assert {k: v for k, v in report["cases_by_outcome"].items() if v} == \
        dict(Counter(case.outcome or "unresolved" for case in cases)) == {"safe": 1, "referred": 1, "unresolved": 1}
    assert report["takeovers"] == CaseEvent.objects.filter(case__in=cases, kind=CaseEventKind.CLAIMED) \
        .values("case").distinct().count() == 3
    assert report["sla_misses"] == CaseEvent.objects.filter(case__in=cases, kind=CaseEventKind.SLA_MISSED).count() == 1

    keys = [f"case:{case.public_id}" for case in cases] + [f"case:{case.public_id}:unclaimed" for case in cases]
    raw = Counter(Notification.objects.filter(event_key__in=keys).values_list("channel", "status"))
    reported = {(channel, status): count for channel, statuses in report["notifications"].items()
                for status, count in statuses.items() if count}
    assert reported == dict(raw) == {("email", "sent"): 3, ("sms", "sent"): 2, ("email", "pending"): 1}

    seconds = report["seconds_to"]
    # Preset reply in the message's own transaction; claims after 20 s, 120 s (after the fallback) and 70 s
    # (across midnight); contacts told 5 s and 12 s after; resolved after 300 s and 600 s.
    assert seconds["safety_reply"] == {"count": 3, "median": 0.0, "p90": 0.0}
    assert seconds["claimed"] == {"count": 3, "median": 70.0, "p90": 120.0}
    assert seconds["contact_notified"] == {"count": 2, "median": 8.5, "p90": 12.0}
    assert seconds["resolved"] == {"count": 2, "median": 450.0, "p90": 600.0}
    assert report["drills"] == []


def test_cases_count_in_the_month_they_opened_in_shanghai_time(november):
    december, october = crisis_month(2026, 12), crisis_month(2026, 10)
    assert december["cases_opened"] == 1 and december["takeovers"] == 0
    assert october["cases_opened"] == 1
    assert november["december"].opened_at.astimezone(dt.timezone.utc).month == 11  # UTC would miscount it
    assert crisis_month(2026, 9)["cases_opened"] == 0
    assert crisis_month(2026, 9)["seconds_to"]["claimed"] == {"count": 0, "median": None, "p90": None}


def test_crisis_report_command_prints_the_month(november):
    out = io.StringIO()
    call_command("crisis_report", month="2026-11", stdout=out)
    assert json.loads(out.getvalue()) == json.loads(json.dumps(crisis_month(2026, 11)))
    text = io.StringIO()
    call_command("crisis_report", month="2026-11", format="text", stdout=text)
    assert "Cases opened: 3" in text.getvalue() and "SLA misses: 1" in text.getvalue()
    assert "claimed: n=3 median=70 s p90=120 s" in text.getvalue()
    with pytest.raises(CommandError):
        call_command("crisis_report", month="2026-13")


def test_month_parsing_and_nearest_rank_percentile():
    assert parse_month("2026-01") == (2026, 1)
    for bad in ("2026", "2026-00", "x-1", "2026-1-1"):
        with pytest.raises(ValueError):
            parse_month(bad)
    start, end = month_bounds(2026, 12)
    assert (start.isoformat(), end.isoformat()) == ("2026-12-01T00:00:00+08:00", "2027-01-01T00:00:00+08:00")
    assert percentile([], 0.9) is None
    assert percentile([5.0], 0.9) == 5.0
    assert percentile(list(map(float, range(1, 11))), 0.9) == 9.0
    assert percentile(list(map(float, range(1, 12))), 0.9) == 10.0
