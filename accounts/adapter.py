"""allauth behaviour for this service, swapped in by ACCOUNT_ADAPTER (STYLE.md §11)."""
from urllib.parse import urlencode

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from cryptography.fernet import InvalidToken
from django.urls import reverse

from accounts.consents import missing_for_chat
from accounts.fields import encrypt_text, field_cipher


class AccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request):
        """CN-REG-01: after a new version of the terms or privacy policy, the accept screen comes
        first at the next sign-in, then wherever the person was going."""
        target = super().get_login_redirect_url(request)
        if request.user.is_authenticated and missing_for_chat(request.user):
            return reverse("reconsent") + "?" + urlencode({"next": target})
        return target


class MFAAdapter(DefaultMFAAdapter):
    """TOTP secrets and recovery-code seeds are encrypted at rest with the field keys
    (FIELD_ENCRYPTION_KEYS, MultiFernet: any listed key decrypts, the newest encrypts)."""

    def encrypt(self, text: str) -> str:
        return encrypt_text(text)

    def decrypt(self, encrypted_text: str) -> str:
        try:
            return field_cipher().decrypt(encrypted_text.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeEncodeError):
            # Written before secrets were encrypted (an older development database): still readable;
            # re-enrolling stores it encrypted. A secret under a retired key fails closed (no code matches).
            return encrypted_text
