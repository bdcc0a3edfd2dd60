"""Celery wrappers around the delivery services (STYLE.md §4): ids in, state re-read, idempotent."""
import logging
import smtplib

from celery import shared_task
from celery.exceptions import MaxRetriesExceededError, Retry
from django.conf import settings
from django.utils import timezone

from guardians import services
from guardians.sms import SMSError

logger = logging.getLogger(__name__)

# Transport failures worth another try; anything else is a bug and surfaces in the worker log.
TRANSIENT_ERRORS = (smtplib.SMTPException, OSError, SMSError)
MAX_RETRIES = 5


def backoff_seconds(retries: int) -> float:
    """2, 4, 8, 16, 32 s by default: kept under the broker's visibility timeout (settings)."""
    return settings.GUARDIANS_RETRY_BASE_SECONDS * 2 ** retries


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES)
def deliver_notification(self, notification_id: int) -> str | Retry:
    """Send one safety notification (CN-CRI-07); see `guardians.services` for the exactly-once policy.

    Retries transport errors with exponential backoff, at most MAX_RETRIES times, then records the row
    as `failed`. A copy that finds another attempt's lease still running waits for it to end.
    """
    try:
        return "sent" if services.send_notification(notification_id=notification_id) else "skipped"
    except services.DeliveryDeferred as deferred:
        try:
            return _again(self, countdown=deferred.seconds)
        except MaxRetriesExceededError:
            return "deferred"
    except TRANSIENT_ERRORS as error:
        final = self.request.retries >= self.max_retries
        services.record_delivery_failure(notification_id=notification_id,
                                         error=f"{type(error).__name__}: {error}", final=final)
        if final:
            logger.error("safety notification %s failed after %s retries: %s", notification_id, self.max_retries,
                         error)
            return "failed"
        return _again(self, countdown=backoff_seconds(self.request.retries), exc=error)


def _again(task, **options) -> Retry:
    """Schedule the retry. Run eagerly (no broker: embedded default and tests, where failures must
    propagate), Celery's `apply()` runs a *returned* Retry in-line at once; a raised one would escape."""
    retry = task.retry(throw=False, **options)
    if task.request.is_eager:
        return retry
    raise retry


@shared_task(acks_late=True)
def send_weekly_summaries() -> int:
    """CN-MIN-08: each consenting guardian account gets one email per minor ward summing up the ward's
    last complete week (Beijing). Each is its own transaction and idempotent per guardian, ward and
    week, so a rerun (beat twice, a redelivered task) sends nothing more. Returns how many were queued."""
    from guardians import usage  # usage imports services, which import this module

    today = timezone.localdate(timezone=usage.BEIJING)
    return sum(1 for contact_id in usage.summary_wards()
               if usage.queue_weekly_summary(contact_id=contact_id, today=today) is not None)
