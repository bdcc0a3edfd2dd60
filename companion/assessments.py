"""Personal-information impact assessments (CN-DAT-10, PIPL art. 55-56): a sensitive feature works
only while an assessment of it, recorded by a compliance officer, is in force (recorded, and its
review date not passed). Features: remote screening services (moderation.remote) and the training
extract (companion.training_export). The gate is off only where COMPANION_IMPACT_ASSESSMENT_GATE is
False (the test settings; tests that prove the gate turn it on).
"""
from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts import audit
from accounts.models import User
from companion.models import ImpactAssessment, SensitiveFeature

CACHE_SECONDS = 60
REVIEW_DAYS_MAX = 3 * 365  # PIPL art. 56: records kept at least three years; reviewed at least that often


def _cache_key(feature: str) -> str:
    return f"impact-assessment:{feature}"


def in_force(feature: str) -> bool:
    """Whether `feature` may run now. Read on the screening path, so cached for a minute; recording
    an assessment clears the cache at once."""
    if not settings.COMPANION_IMPACT_ASSESSMENT_GATE:
        return True
    cached = cache.get(_cache_key(feature))
    if cached is not None:
        return cached
    latest = ImpactAssessment.objects.filter(feature=feature).order_by("-recorded_at", "-id").first()
    allowed = latest is not None and latest.review_by >= timezone.localdate()
    cache.set(_cache_key(feature), allowed, CACHE_SECONDS)
    return allowed


class AssessmentRefused(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@transaction.atomic(durable=True)
def record_assessment(*, officer: User, feature: str, summary: str, risks: str, measures: str,
                      review_by: dt.date) -> ImpactAssessment:
    if feature not in SensitiveFeature.values:
        raise AssessmentRefused("feature")
    today = timezone.localdate()
    if not today < review_by <= today + dt.timedelta(days=REVIEW_DAYS_MAX):
        raise AssessmentRefused("review_by")
    row = ImpactAssessment.objects.create(feature=feature, summary=summary.strip(), risks=risks.strip(),
                                          measures=measures.strip(), recorded_by=officer, review_by=review_by)
    audit.record("data.impact_assessment_recorded", actor=officer, subject_type="impact_assessment",
                 subject_id=row.pk, data={"feature": feature, "review_by": review_by.isoformat()})
    transaction.on_commit(lambda: cache.delete(_cache_key(feature)))
    return row


def feature_status(today: dt.date | None = None) -> list[dict]:
    """Every sensitive feature, its newest assessment and whether it is in force, for the page."""
    today = today or timezone.localdate()
    rows = []
    for feature in SensitiveFeature:
        latest = ImpactAssessment.objects.filter(feature=feature).select_related("recorded_by").first()
        rows.append({"feature": feature, "label": feature.label, "latest": latest,
                     "in_force": latest is not None and latest.review_by >= today})
    return rows
