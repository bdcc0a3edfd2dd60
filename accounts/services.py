from django.conf import settings
from django.db import transaction

from accounts.models import User


@transaction.atomic(durable=True)
def set_user_language(*, user: User, language: str) -> None:
    """Remember the interface language so chats, reminders and mail use it too."""
    if language not in dict(settings.LANGUAGES):
        raise ValueError(f"unsupported language {language!r}")
    User.objects.filter(pk=user.pk).update(language=language)
    user.language = language
