"""SMS senders, chosen by the `SMS_BACKEND` setting (dotted path), like Django's EMAIL_BACKEND.

A backend has `send(message: SMS) -> None` and raises `SMSError` when the text was not accepted;
the delivery task retries those.
"""
import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class SMSError(Exception):
    """The gateway did not accept the message (transient as far as we can tell: retried)."""


@dataclass(frozen=True)
class SMS:
    to: str  # E.164
    text: str
    id: str  # stable per notification: the gateway's idempotency key


class ConsoleSMSBackend:
    """Embedded default: writes the text to the log instead of sending it."""

    def send(self, message: SMS) -> None:
        logger.info("SMS %s to %s: %s", message.id, message.to, message.text)


class HTTPGatewaySMSBackend:
    """POSTs `{"to", "text", "id"}` as JSON to SMS_GATEWAY_URL with a bearer token.

    The notification id goes in `Idempotency-Key` too, so a resend after a lost response (or a
    worker that died after the POST) is delivered once by gateways that honour it.
    """

    def __init__(self, url: str | None = None, token: str | None = None, timeout: float | None = None):
        self.url = url if url is not None else settings.SMS_GATEWAY_URL
        self.token = token if token is not None else settings.SMS_GATEWAY_TOKEN
        self.timeout = timeout if timeout is not None else settings.SMS_GATEWAY_TIMEOUT_SECONDS
        if not self.url:
            raise ImproperlyConfigured("SMS_BACKEND is the HTTP gateway but SMS_GATEWAY_URL is empty")

    def send(self, message: SMS) -> None:
        payload = json.dumps({"to": message.to, "text": message.text, "id": message.id}).encode("utf-8")
        request = urllib.request.Request(self.url, data=payload, method="POST", headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {self.token}",
            "Idempotency-Key": message.id})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            raise SMSError(f"gateway answered HTTP {error.code}") from error
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise SMSError(f"gateway unreachable: {error}") from error
        if not 200 <= status < 300:
            raise SMSError(f"gateway answered HTTP {status}")


def sms_backend():
    """A fresh instance of the configured backend (cheap; follows settings changes in tests)."""
    return import_string(settings.SMS_BACKEND)()
