"""Username rules for sign-up (allauth ACCOUNT_USERNAME_VALIDATORS)."""
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# Synthetic accounts of the monthly crisis drill (BX-16) are told apart by this prefix.
RESERVED_PREFIXES = ("drill-",)


def not_reserved(username: str) -> None:
    if username.casefold().startswith(RESERVED_PREFIXES):
        raise ValidationError(_("This user name is reserved. Please choose another."), code="reserved")


username_validators = [UnicodeUsernameValidator(), not_reserved]
