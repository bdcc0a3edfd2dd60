"""Production: every service is required and nothing insecure is defaulted."""
import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F401,F403
from .base import AUDIT_CHAIN_KEYS, DATABASE_URL, FIELD_ENCRYPTION_KEYS, REDIS_URL

for _name, _value in {"DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL,
                      "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY"),
                      "FIELD_ENCRYPTION_KEYS": FIELD_ENCRYPTION_KEYS,
                      "AUDIT_CHAIN_KEYS": AUDIT_CHAIN_KEYS}.items():
    if not _value:
        raise ImproperlyConfigured(f"{_name} must be set in production")

SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DEBUG = False
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_SSL_REDIRECT = os.environ.get("SECURE_SSL_REDIRECT", "true").lower() == "true"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
