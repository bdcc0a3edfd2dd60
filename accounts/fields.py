"""Encrypted model fields for chat content at rest (CN-DAT-01).

Values are Fernet tokens made by a MultiFernet over FIELD_ENCRYPTION_KEYS (newest first), so
keys rotate without downtime: add a new key in front, run `manage.py rotate_field_keys`,
then drop the old key.
"""
from functools import cache

from cryptography.fernet import InvalidToken, MultiFernet, Fernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@cache
def field_cipher() -> MultiFernet:
    keys = settings.FIELD_ENCRYPTION_KEYS
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as error:
        raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS holds an invalid key: {error}") from error


def encrypt_text(value: str) -> str:
    return field_cipher().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt_text(token: str) -> str:
    try:
        return field_cipher().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as error:
        raise ImproperlyConfigured("a stored value cannot be decrypted with FIELD_ENCRYPTION_KEYS") from error


def rotate_token(token: str) -> str:
    """Re-encrypt a stored token under the newest key."""
    return field_cipher().rotate(token.encode("ascii")).decode("ascii")


class EncryptedTextField(models.TextField):
    """A text field whose database value is a Fernet token; lookups other than isnull make no sense."""

    def from_db_value(self, value, expression, connection):
        return None if value is None else decrypt_text(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return None if value is None else encrypt_text(value)
