"""Monthly crisis statistics from the raw rows (CN-CRI-10, feeding CN-GOV-04's assessment).

Reads only. A month is a calendar month in the service's time zone (TIME_ZONE); its cases are the
ones *opened* in it, and every other figure (outcomes, claims, SLA misses, notifications, times) is
about those cases, whenever it happened. Drill cases (BX-16: accounts with a `DrillRun`) are left
out; the month's drills are listed on their own.

Times are seconds from the triggering message (`CrisisCase.trigger.created_at`, or `opened_at` when
the message is gone) to the first preset safety reply, the first operator claim, the first contact
notification sent (`Notification.sent_at` of the case's event key `case:<public_id>`) and the
resolution. Percentiles use the nearest-rank method, so every figure is one of the measured times.
"""
from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict

from django.utils import timezone

from companion.models import CaseEvent, CaseEventKind, CaseOutcome, CrisisCase, DrillRun, RiskLevel
from guardians.models import Channel, Notification, Status

UNRESOLVED = "unresolved"
TIMED_STEPS = ("safety_reply", "claimed", "contact_notified", "resolved")
_KEY_CHUNK = 500  # event keys per IN (…) query: far below every backend's parameter limit


def month_bounds(year: int, month: int) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of the calendar month in the current time zone. ValueError for a bad month."""
    if not 1 <= month <= 12:
        raise ValueError(f"month must be 1-12, not {month}")
    zone = timezone.get_current_timezone()
    start = timezone.make_aware(dt.datetime(year, month, 1), zone)
    following = dt.datetime(year + month // 12, month % 12 + 1, 1)
    return start, timezone.make_aware(following, zone)


def parse_month(value: str) -> tuple[int, int]:
    """"2026-11" → (2026, 11); ValueError for anything else."""
    try:
        year, month = (int(part) for part in value.split("-"))
    except ValueError:
        raise ValueError(f"expected YYYY-MM, not {value!r}") from None
    if not (1 <= month <= 12 and 1 <= year <= 9998):
        raise ValueError(f"expected YYYY-MM, not {value!r}")
    return year, month


def case_event_key(public_id) -> str:
    """The key `handle_risk` gives the case's contact notifications (CN-CRI-07)."""
    return f"case:{public_id}"


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least `fraction` of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _summary(values: list[float]) -> dict:
    return {"count": len(values),
            "median": round(statistics.median(values), 3) if values else None,
            "p90": round(percentile(values, 0.9), 3) if values else None}


def real_cases():
    """Crisis cases of real users: drill accounts (any user with a DrillRun, BX-16) left out."""
    return CrisisCase.objects.exclude(user__in=DrillRun.objects.values("user"))


def _first_sent(keys: list[str]) -> dict[str, dt.datetime]:
    first: dict[str, dt.datetime] = {}
    for offset in range(0, len(keys), _KEY_CHUNK):
        rows = Notification.objects.filter(event_key__in=keys[offset:offset + _KEY_CHUNK], sent_at__isnull=False)
        for key, sent_at in rows.values_list("event_key", "sent_at"):
            if key not in first or sent_at < first[key]:
                first[key] = sent_at
    return first


def _notification_counts(keys: list[str]) -> dict[str, dict[str, int]]:
    counts = {channel: dict.fromkeys(Status.values, 0) for channel in Channel.values}
    for offset in range(0, len(keys), _KEY_CHUNK):
        rows = Notification.objects.filter(event_key__in=keys[offset:offset + _KEY_CHUNK])
        for channel, status in rows.values_list("channel", "status"):
            counts.setdefault(channel, dict.fromkeys(Status.values, 0))[status] += 1
    return counts


def _event_rows(case_ids: list[int]) -> list[tuple[int, str, dt.datetime]]:
    """(case id, kind, at) of the timed and counted events, oldest first within each case."""
    rows = []
    for offset in range(0, len(case_ids), _KEY_CHUNK):
        rows += CaseEvent.objects.filter(
            case_id__in=case_ids[offset:offset + _KEY_CHUNK],
            kind__in=(CaseEventKind.SAFETY_REPLY, CaseEventKind.CLAIMED, CaseEventKind.SLA_MISSED),
        ).order_by("at", "id").values_list("case_id", "kind", "at")
    return rows


def drills_in_month(year: int, month: int) -> list[DrillRun]:
    """BX-16: the drills started in the month, oldest first."""
    start, end = month_bounds(year, month)
    return list(DrillRun.objects.filter(started_at__gte=start, started_at__lt=end)
                .select_related("operator").order_by("started_at", "id"))


def drill_record(run: DrillRun) -> dict:
    return {"started_at": run.started_at.isoformat(), "outcome": run.outcome, "automated": run.automated,
            "operator": run.operator.username if run.operator_id else None,
            "detection_seconds": run.detection_seconds, "template_seconds": run.template_seconds,
            "accept_seconds": run.accept_seconds, "notification_seconds": run.notification_seconds,
            "notes": run.notes}


def crisis_month(year: int, month: int) -> dict:
    """CN-CRI-10 figures for the cases opened in the month (see the module docstring). JSON-ready."""
    start, end = month_bounds(year, month)
    cases = list(real_cases().filter(opened_at__gte=start, opened_at__lt=end)
                 .values("pk", "public_id", "level", "outcome", "status", "opened_at", "resolved_at",
                         "trigger__created_at"))
    by_level = dict.fromkeys(RiskLevel.values, 0)
    by_outcome = dict.fromkeys([*CaseOutcome.values, UNRESOLVED], 0)
    for case in cases:
        by_level[case["level"]] = by_level.get(case["level"], 0) + 1
        by_outcome[case["outcome"] or UNRESOLVED] += 1

    firsts: dict[int, dict[str, dt.datetime]] = defaultdict(dict)
    claimed, sla_misses = set(), 0
    for case_id, kind, at in _event_rows([case["pk"] for case in cases]):
        if kind == CaseEventKind.SLA_MISSED:
            sla_misses += 1
        if kind == CaseEventKind.CLAIMED:
            claimed.add(case_id)
        firsts[case_id].setdefault(kind, at)  # rows come oldest first

    keys = [case_event_key(case["public_id"]) for case in cases]
    sent = _first_sent(keys)
    times: dict[str, list[float]] = {step: [] for step in TIMED_STEPS}
    for case in cases:
        origin = case["trigger__created_at"] or case["opened_at"]
        moments = {"safety_reply": firsts[case["pk"]].get(CaseEventKind.SAFETY_REPLY),
                   "claimed": firsts[case["pk"]].get(CaseEventKind.CLAIMED),
                   "contact_notified": sent.get(case_event_key(case["public_id"])),
                   "resolved": case["resolved_at"]}
        for step, moment in moments.items():
            if moment is not None:
                times[step].append(max(0.0, (moment - origin).total_seconds()))

    unclaimed_keys = [f"{key}:unclaimed" for key in keys]
    return {
        "month": f"{year:04d}-{month:02d}",
        "from": start.isoformat(), "until": end.isoformat(),
        "cases_opened": len(cases),
        "cases_by_level": by_level,
        "cases_by_outcome": by_outcome,
        "takeovers": len(claimed),
        "sla_misses": sla_misses,
        "seconds_to": {step: _summary(values) for step, values in times.items()},
        "notifications": _notification_counts(keys + unclaimed_keys),
        "drills": [drill_record(run) for run in drills_in_month(year, month)],
    }

