"""Celery wrappers for the audit log (STYLE.md §4)."""
from celery import shared_task

from accounts import audit


@shared_task(acks_late=True)
def audit_daily() -> dict:
    """Purge rows past retention, then export the chain head as the day's anchor (BX-11). Safe to
    run twice: the second run purges nothing and appends the same head again."""
    purged = audit.purge_expired()
    head = audit.export_anchor()
    return {"purged": purged, "head_id": head[0] if head else None}
