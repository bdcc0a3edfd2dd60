"""Celery wrappers for the audit log and the daily age bands (STYLE.md §4)."""
from celery import shared_task

from accounts import audit, identity


@shared_task(acks_late=True)
def audit_daily() -> dict:
    """Purge rows past retention, then export the chain head as the day's anchor (BX-11). Safe to
    run twice: the second run purges nothing and appends the same head again."""
    purged = audit.purge_expired()
    head = audit.export_anchor()
    return {"purged": purged, "head_id": head[0] if head else None}


@shared_task(acks_late=True)
def recompute_age_bands() -> dict:
    """Daily just after midnight (CELERY_TIMEZONE): birthdays move people between age bands
    (CN-REG-02, CN-REG-05); each move is stored and audited once, so a rerun changes nothing."""
    return {"changed": identity.recompute_age_bands()}
