"""Live figures for the regulator site and the security self-assessment report (CN-GOV-03,
CN-GOV-04, CN-GOV-06, BX-09). Reads only.

Everything is counted by the database (filters on birth-date cut-offs, `COUNT … FILTER`, subqueries),
never by loading users into Python, so the figures stay cheap at the million-account threshold they
exist to watch. The population is the service's users: staff (`is_staff`, or an operator,
compliance or regulator role) and crisis-drill accounts (BX-16) are not users of the service.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from accounts.policies import AgeBand
from accounts.selectors import staff_accounts
from companion.models import Author, CaseEvent, CaseEventKind, DrillRun, Message, Sanction, SanctionKind
from companion.reports import crisis_month, real_cases
from moderation.models import FeatureTerm, Library, LibraryVersion, SafetyTemplate, Status

ACTIVE_DAYS = 30  # CN-GOV-03: monthly active users are the distinct users active in 30 days


def staff_account_exists(user_ref) -> Exists:
    """For annotations: is the user id at `user_ref` (an OuterRef) a staff account?"""
    return Exists(staff_accounts().filter(pk=user_ref))


def service_users() -> QuerySet[User]:
    """Active accounts of people using the service (see the module docstring)."""
    return (User.objects.filter(is_active=True)
            .exclude(staff_account_exists(OuterRef("pk")))
            .exclude(Exists(DrillRun.objects.filter(user=OuterRef("pk")))))


def years_before(day: dt.date, years: int) -> dt.date:
    """The same calendar day `years` earlier; 29 February falls back to the 28th. Someone born on
    or before it has completed `years` years on `day` (accounts.policies.age_on)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


@dataclass(frozen=True)
class UserScale:
    registered: int
    monthly_active: int
    messages: int  # messages users wrote in the same window: how much the service is used
    since: dt.datetime


def user_scale(*, now: dt.datetime) -> UserScale:
    """CN-GOV-03: registered users and monthly active users (wrote at least one message in the
    last 30 days)."""
    since = now - dt.timedelta(days=ACTIVE_DAYS)
    users = service_users()
    recent = Message.objects.filter(author=Author.USER, created_at__gte=since, created_at__lt=now)
    return UserScale(
        registered=users.count(),
        monthly_active=users.filter(Exists(recent.filter(conversation__user=OuterRef("pk")))).count(),
        messages=recent.filter(conversation__user__in=users).count(),
        since=since)


def age_structure(*, today: dt.date) -> dict[str, int]:
    """Users per age band (accounts.policies.age_band: no birth date counts as adult), in one query."""
    under_14, under_18, under_60 = (years_before(today, years) for years in (14, 18, 60))
    counts = service_users().aggregate(
        child=Count("pk", filter=Q(birth_date__gt=under_14)),
        minor=Count("pk", filter=Q(birth_date__gt=under_18, birth_date__lte=under_14)),
        elderly=Count("pk", filter=Q(birth_date__lte=under_60)),
        total=Count("pk"))
    counts["adult"] = counts.pop("total") - counts["child"] - counts["minor"] - counts["elderly"]
    return {band.value: counts[band.value] for band in AgeBand}


def recent_months(*, now: dt.datetime, count: int) -> list[tuple[int, int]]:
    """The last `count` calendar months in the current time zone, oldest first, this one included."""
    local = timezone.localtime(now)
    index = local.year * 12 + local.month - 1
    return [(i // 12, i % 12 + 1) for i in range(index - count + 1, index + 1)]


def crisis_months(*, now: dt.datetime, count: int) -> list[dict]:
    """CN-CRI-10 monthly figures (companion.reports.crisis_month), oldest first."""
    return [crisis_month(year, month) for year, month in recent_months(now=now, count=count)]


@dataclass(frozen=True)
class Interventions:
    open_cases: int
    cases_total: int
    takeovers_total: int  # CN-CRI-05: times staff took a conversation over (claimed events)
    takeovers_recent: int
    cases_recent: int


def interventions(*, now: dt.datetime) -> Interventions:
    since = now - dt.timedelta(days=ACTIVE_DAYS)
    cases = real_cases()
    claims = CaseEvent.objects.filter(kind=CaseEventKind.CLAIMED, case__in=cases)
    figures = cases.aggregate(total=Count("pk"), recent=Count("pk", filter=Q(opened_at__gte=since)),
                              open=Count("pk", filter=Q(resolved_at__isnull=True)))
    return Interventions(open_cases=figures["open"], cases_total=figures["total"], cases_recent=figures["recent"],
                         takeovers_total=claims.count(), takeovers_recent=claims.filter(at__gte=since).count())


def sanction_counts(*, now: dt.datetime) -> dict[str, dict[str, int]]:
    """CN-CRI-09: measures imposed, and in force now, per kind."""
    active = Q(lifted_at__isnull=True) & (Q(ends_at__isnull=True) | Q(ends_at__gt=now))
    rows = Sanction.objects.values("kind").annotate(imposed=Count("pk"), active=Count("pk", filter=active))
    counts = {kind: {"imposed": 0, "active": 0} for kind in SanctionKind.values}
    for row in rows:
        counts[row["kind"]] = {"imposed": row["imposed"], "active": row["active"]}
    return counts


@dataclass(frozen=True)
class SafetyMeasures:
    versions: dict[str, LibraryVersion | None]  # newest published version per library
    approved_terms: int
    approved_templates: int


def safety_measures() -> SafetyMeasures:
    """CN-CON-03, CN-CRI-03: the feature library and the preset replies in force."""
    return SafetyMeasures(
        versions={library: LibraryVersion.objects.filter(library=library).order_by("-number").first()
                  for library in Library.values},
        approved_terms=FeatureTerm.objects.filter(status=Status.APPROVED).count(),
        approved_templates=SafetyTemplate.objects.filter(status=Status.APPROVED).count())
