from django.conf import settings
from django.db import transaction

from accounts import audit
from accounts.models import User


@transaction.atomic(durable=True)
def set_user_language(*, user: User, language: str) -> None:
    """Remember the interface language so chats, reminders and mail use it too."""
    if language not in dict(settings.LANGUAGES):
        raise ValueError(f"unsupported language {language!r}")
    User.objects.filter(pk=user.pk).update(language=language)
    user.language = language


@transaction.atomic(durable=True)
def correct_profile(*, user: User, first_name: str, language: str) -> list[str]:
    """CN-DAT-09: the person corrects their name or language. Returns the fields that changed;
    the audit row names the fields, never the values."""
    if language not in dict(settings.LANGUAGES):
        raise ValueError(f"unsupported language {language!r}")
    changed = [name for name, value in (("first_name", first_name), ("language", language))
               if getattr(user, name) != value]
    if changed:
        User.objects.filter(pk=user.pk).update(first_name=first_name, language=language)
        user.first_name, user.language = first_name, language
        audit.record("profile.corrected", actor=user, subject_type="user", subject_id=user.pk,
                     data={"fields": changed})
    return changed
