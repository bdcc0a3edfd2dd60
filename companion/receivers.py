"""Receivers companion connects in CompanionConfig.ready() (STYLE.md §1, §2)."""
from asgiref.sync import async_to_sync
from django.conf import settings
from django.dispatch import receiver
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from companion import broadcast
from guardians.signals import chat_gate_closed


def contacts_notice(language: str) -> dict:
    """The notice before `closed` when contacts stop the chat: why, and where to see more."""
    with translation.override(language):
        return {"type": "notice", "kind": "contacts",
                "text": gettext("Chat is paused: your guardian has withdrawn consent, or your safety contacts "
                                "need attention."),
                "link": {"url": reverse("guardians:contacts"), "text": gettext("See what is needed")}}


@receiver(chat_gate_closed, dispatch_uid="companion.close_chats_at_gate")
def close_chats(sender, *, user_id: int, **kwargs) -> None:
    """CN-MIN-03, CN-REG-03: every open chat of the user ends at once: the notice, `closed: blocked`."""
    notices = {code: contacts_notice(code) for code, _ in settings.LANGUAGES}
    async_to_sync(broadcast.close_user_chats)(user_id, "blocked", code=4414, notices=notices)
