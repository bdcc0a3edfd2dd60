"""Receivers companion connects in CompanionConfig.ready() (STYLE.md §1, §2)."""
from asgiref.sync import async_to_sync
from django.conf import settings
from django.dispatch import receiver

from companion import broadcast, protocol
from companion.protocol import contacts_notice, guardian_block_notice, minor_mode_notice, reminder
from companion.services import usage_lock_reminder
from accounts.signals import minor_mode_switched_on
from guardians.signals import character_blocked, chat_gate_closed, limits_changed


@receiver(chat_gate_closed, dispatch_uid="companion.close_chats_at_gate")
def close_chats(sender, *, user_id: int, **kwargs) -> None:
    """CN-MIN-03, CN-REG-03: every open chat of the user ends at once: the notice, `closed: blocked`."""
    notices = {code: contacts_notice(code) for code, _ in settings.LANGUAGES}
    async_to_sync(broadcast.close_user_chats)(user_id, "blocked", code=4414, notices=notices)


@receiver(character_blocked, dispatch_uid="companion.close_blocked_character_chats")
def close_blocked_character_chats(sender, *, user_id: int, slug: str, **kwargs) -> None:
    """CN-MIN-09: the user's open chats with that character end at once: the notice, `closed: blocked`
    (4403, as when opening it); chats with other characters stay open."""
    notices = {code: guardian_block_notice(code) for code, _ in settings.LANGUAGES}
    async_to_sync(broadcast.close_user_chats)(user_id, "blocked", code=4403, notices=notices, character=slug)


@receiver(limits_changed, dispatch_uid="companion.close_chats_over_new_limits")
def close_chats_over_new_limits(sender, *, user_id: int, **kwargs) -> None:
    """CN-MIN-10: a guardian's tighter limits take effect on open sockets at once: if the user is now
    over the daily minutes or inside the rest hours, the pop-up, then `closed: time_limit`/`curfew`."""
    item = usage_lock_reminder(user_id=user_id)
    if item is not None:
        async_to_sync(broadcast.close_user_chats)(user_id, item.kind, code=protocol.LOCK_CLOSE_CODES[item.kind],
                                                  notices={settings.LANGUAGE_CODE: reminder(item)})


@receiver(minor_mode_switched_on, dispatch_uid="companion.close_chats_into_minor_mode")
def close_chats_into_minor_mode(sender, *, user_id: int, **kwargs) -> None:
    """CN-MIN-05: every open chat of the user ends at once with the notice and the appeal link, then
    `closed: blocked` (4415); reopening gives `ready` with `minor_mode` true, or 403 for a character
    minor mode does not allow."""
    notices = {code: minor_mode_notice(code) for code, _ in settings.LANGUAGES}
    async_to_sync(broadcast.close_user_chats)(user_id, "blocked", code=protocol.MINOR_MODE_CLOSE_CODE,
                                              notices=notices)
