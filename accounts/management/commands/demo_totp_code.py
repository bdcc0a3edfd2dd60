"""`manage.py demo_totp_code`: print the current two-factor code of the demo staff accounts.

`seed_demo` gives `operator`, `compliance`, `regulator` and `admin` one authenticator with the
secret ACCOUNTS_DEMO_TOTP_SECRET (env DEMO_TOTP_SECRET), so a demo needs no phone: sign in with the
password, then type the code this prints. An authenticator app given the same secret shows the same
codes (RFC 6238: SHA-1, 30 s, 6 digits).
"""
import base64
import binascii
import time

from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def demo_totp_secret() -> str:
    """The configured demo secret, checked: allauth decodes it as unpadded base32."""
    secret = settings.ACCOUNTS_DEMO_TOTP_SECRET.strip().upper()
    try:
        base64.b32decode(secret)
    except (binascii.Error, ValueError):
        raise CommandError("DEMO_TOTP_SECRET must be base32 (letters A-Z and digits 2-7), "
                           "a multiple of 8 characters long") from None
    return secret


class Command(BaseCommand):
    help = "Print the current two-factor code of the demo staff accounts (DEMO_TOTP_SECRET)."

    def handle(self, *args, **options):
        counter = int(time.time()) // mfa_settings.TOTP_PERIOD
        self.stdout.write(format_hotp_value(hotp_value(demo_totp_secret(), counter)))
