"""Celery tasks of the crisis protocol and the nightly dependence score; each is idempotent (the service
decides once, under a lock, or updates rows in place)."""
import datetime as dt

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.utils import translation
from django.utils.translation import gettext

from companion import complaints, minors_audit, notices, privacy, retention
from companion.broadcast import announce_fallback_sync
from companion.crisis import close_quiet_cases, overdue_case_ids, run_sla_fallback
from companion.dependence import score_all
from companion.models import CrisisCase


@shared_task(acks_late=True)
def check_case_sla(case_id: int) -> bool:
    """Scheduled COMPANION_CRISIS_SLA_SECONDS after a case opens; runs the fallback if still unclaimed."""
    fallback = run_sla_fallback(case_id=case_id)
    if fallback is not None:
        announce_fallback_sync(fallback)
    return fallback is not None


@shared_task(acks_late=True)
def sweep_overdue_cases() -> int:
    """Beat safety net for a lost countdown task (worker restarts): every overdue case, once."""
    return sum(check_case_sla(case_id) for case_id in overdue_case_ids())


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def page_oncall(case_id: int) -> None:
    """CN-CRI-08: the on-call duty lead and compliance officer are paged when nobody claimed in time.
    The page says where to look, never what the user wrote."""
    case = CrisisCase.objects.get(pk=case_id)
    with translation.override("zh-hans" if settings.LANGUAGE_CODE.startswith("zh") else "en"):
        subject = gettext("[%(service)s] Unclaimed safety case (%(level)s)") % {
            "service": settings.COMPANION_SERVICE_NAME, "level": case.level}
        body = gettext("A safety case has waited %(seconds)d seconds without an operator. Open the console now: "
                       "%(url)s\nCase: %(case)s") % {"seconds": settings.COMPANION_CRISIS_SLA_SECONDS,
                                                     "url": settings.COMPANION_SITE_URL.rstrip("/") + "/console/",
                                                     "case": case.public_id}
    send_mail(subject, body, None, list(settings.COMPANION_CRISIS_ONCALL_EMAILS))


@shared_task(acks_late=True)
def close_quiet_crisis_cases() -> int:
    """Hourly (beat): BX-02's 72-hour decay of handed-back cases."""
    return close_quiet_cases()


@shared_task(acks_late=True)
def run_monthly_crisis_drill() -> str:
    """Monthly (beat): BX-16's automated end-to-end drill, claimed by COMPANION_DRILL_OPERATOR; skipped
    with a warning when that is unset, and a no-op once this month's automated drill passed."""
    from companion.drills import monthly_drill

    run = monthly_drill()
    return "skipped" if run is None else run.outcome


@shared_task(acks_late=True)
def score_dependence(day: str | None = None) -> int:
    """Nightly (beat): CN-EMO-06's dependence score for the 7 local days ending with `day` (ISO date;
    default yesterday). Idempotent: a rerun updates the same rows. Sends nothing to anyone (BX-06)."""
    return score_all(day=dt.date.fromisoformat(day) if day else None)


@shared_task(acks_late=True)
def flag_overdue_complaints() -> int:
    """Every 5 minutes (beat): CN-CMP-02 overdue tickets flagged once and the compliance team mailed."""
    return complaints.flag_overdue_complaints()


@shared_task(acks_late=True)
def remind_minors_audit() -> int:
    """Daily (beat): CN-MIN-15's reminders of the yearly minors' audit sign-off; idempotent."""
    return minors_audit.remind()


@shared_task(acks_late=True)
def purge_expired_records() -> dict:
    """Nightly (beat): CN-DAT-08 retention; see companion/retention.py. Idempotent."""
    return retention.purge_expired_records()


@shared_task(acks_late=True)
def deliver_service_notice(notice_id: int) -> int:
    """After a notice is scheduled: CN-SVC-01's system notice in the affected conversations and one
    email to each affected user. Idempotent (companion/notices.py); returns the emails sent."""
    notices.post_notice(notice_id=notice_id)
    return notices.mail_notice(notice_id=notice_id)


@shared_task(acks_late=True)
def carry_out_service_notices() -> dict:
    """Every minute (beat): CN-SVC-01 deliveries a lost task or a failed send left undone, and on
    its date a suspension or discontinuation ends chat (open sockets get `closed` `service_ended`)."""
    return notices.carry_out_notices()


@shared_task(acks_late=True)
def build_data_export(export_id: int) -> bool:
    """CN-DAT-09: build one person's copy of their data; idempotent (companion/privacy.py)."""
    return privacy.build_export(export_id=export_id)
