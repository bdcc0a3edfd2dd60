"""The payment provider behind wallet top-ups (CN-MIN-11): the only code that talks to one.

A provider sends the payer to its checkout page and, once paid, back to our return URL with a
signature over the payment id, the amount and the outcome; `verify_return` checks it. The return
is replayable: companion.wallet.complete_top_up credits a top-up once, whatever number of times the
browser (or a provider retry) comes back. `COMPANION_PAYMENT_PROVIDER` picks the provider
(`sandbox` default, like `LLM_PROVIDER` in companion/llm.py); a real one (WeChat Pay, Alipay) is a
class with the same two methods named in PROVIDERS.

The sandbox is the checkout page served by this app (`/wallet/sandbox/pay/<id>/`, companion/
wallet_views.py): the payer confirms there, the sandbox signs with COMPANION_PAYMENT_SANDBOX_SECRET
(derived from SECRET_KEY when unset) and redirects back. No money moves.
"""
from __future__ import annotations

import hashlib
import hmac
from functools import cache
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from django.utils.module_loading import import_string

PAID = "paid"


class PaymentProvider(Protocol):
    name: str

    def checkout_url(self, *, payment_id: str, amount_fen: int) -> str:
        """Where to send the payer to pay `amount_fen` for top-up `payment_id`."""

    def verify_return(self, *, payment_id: str, amount_fen: int, outcome: str, signature: str) -> bool:
        """Whether the provider really reported `outcome` for this payment and amount."""


class SandboxProvider:
    name = "sandbox"

    def __init__(self, secret: str):
        self._key = secret.encode()

    def checkout_url(self, *, payment_id: str, amount_fen: int) -> str:
        return reverse("wallet_sandbox_pay", args=[payment_id])

    def sign(self, *, payment_id: str, amount_fen: int, outcome: str) -> str:
        """What the sandbox's checkout page puts on the return URL (the provider's side)."""
        message = f"{payment_id}:{amount_fen}:{outcome}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def return_url(self, *, payment_id: str, amount_fen: int, outcome: str) -> str:
        signature = self.sign(payment_id=payment_id, amount_fen=amount_fen, outcome=outcome)
        return reverse("wallet_topup_return", args=[payment_id]) + f"?outcome={outcome}&sig={signature}"

    def verify_return(self, *, payment_id: str, amount_fen: int, outcome: str, signature: str) -> bool:
        expected = self.sign(payment_id=payment_id, amount_fen=amount_fen, outcome=outcome)
        return hmac.compare_digest(expected, signature or "")


PROVIDERS = {"sandbox": "companion.payments.build_sandbox"}


def build_sandbox() -> SandboxProvider:
    secret = getattr(settings, "COMPANION_PAYMENT_SANDBOX_SECRET", "") or hmac.new(
        settings.SECRET_KEY.encode(), b"haven-payment-sandbox", hashlib.sha256).hexdigest()
    return SandboxProvider(secret)


@cache
def provider() -> PaymentProvider:
    """The configured provider, built once per process."""
    name = getattr(settings, "COMPANION_PAYMENT_PROVIDER", "sandbox")
    try:
        factory = PROVIDERS[name]
    except KeyError:
        raise ImproperlyConfigured(f"COMPANION_PAYMENT_PROVIDER must be one of {sorted(PROVIDERS)}") from None
    return import_string(factory)()
