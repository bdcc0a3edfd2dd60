"""Frames of the chat WebSocket protocol (shared/contracts.md §5; extensions in docs/protocol.md)."""
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from companion.labels import aigc_metadata, visible_label
from companion.models import Author, Message, Reminder


# Close codes after `closed` for a minor's time limit and rest hours (CN-MIN-10, docs/protocol.md).
LOCK_CLOSE_CODES = {"time_limit": 4430, "curfew": 4431}
MINOR_MODE_CLOSE_CODE = 4415  # CN-MIN-05: minor mode switched on; reopening continues in minor mode


class FrameError(Exception):
    """A client frame we cannot accept; `code` is the machine-readable reason."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


def message_record(message: Message, language: str) -> dict:
    """A stored message with its labels, as history and exports show it."""
    staff = staff_number(message.sent_by_id) if message.author == Author.OPERATOR and message.sent_by_id else None
    item = {
        "id": str(message.public_id),
        "author": message.author,
        "label": visible_label(message.author, language, staff),
        "text": message.text,
        "status": message.status,
        "created_at": message.created_at.isoformat(),
    }
    if staff:
        item["staff"] = staff
    if message.author == Author.AI:
        # A reply still streaming, or interrupted by a server that died, has no stored label yet;
        # it is labelled here rather than shown or exported unlabelled (CN-DIS-05, CN-DIS-06).
        item["aigc"] = message.aigc or aigc_metadata(produce_id=item["id"], text=message.text,
                                                     model=message.model_name)
    return item


def history_item(message: Message, language: str) -> dict:
    item = message_record(message, language)
    if message.client_id:
        item["client_id"] = message.client_id
    return item


def ready(*, conversation: str, mode: str, minor_mode: bool, disclosure: str, history: list[dict],
          character: dict, model: dict, limits: dict, pending_reminders: list[str]) -> dict:
    """`pending_reminders` lists the ids of the `reminder` frames that follow at once."""
    return {"type": "ready", "conversation": conversation, "mode": mode, "minor_mode": minor_mode,
            "disclosure": disclosure, "history": history, "character": character, "model": model,
            "limits": limits, "pending_reminders": pending_reminders}


def message_ack(message: Message) -> dict:
    return {"type": "message_ack", "client_id": message.client_id, "id": str(message.public_id)}


def staff_number(user_id: int) -> str:
    """A safety-team member's public number (CN-CRI-05: "Safety team member 0231")."""
    return f"{user_id:04d}"


def message_start(message_id: str, author: str, language: str, staff: str | None = None) -> dict:
    return {"type": "message_start", "id": message_id, "author": author,
            "label": visible_label(author, language, staff)}


def message_delta(message_id: str, text: str) -> dict:
    return {"type": "message_delta", "id": message_id, "text": text}


def message_end(message: Message) -> dict:
    return {"type": "message_end", "id": str(message.public_id), "aigc": message.aigc, "status": message.status}


def whole_message(message: Message, language: str) -> list[dict]:
    """A stored message as start, one delta and end, for text that needs no streaming."""
    return record_frames(message_record(message, language), language)


def record_frames(record: dict, language: str) -> list[dict]:
    """A message record (as broadcast between processes) as start, one delta and end, labelled in
    the receiver's language."""
    end = {"type": "message_end", "id": record["id"], "aigc": record.get("aigc", {}), "status": record["status"]}
    return [message_start(record["id"], record["author"], language, record.get("staff")),
            message_delta(record["id"], record["text"]), end]


def relabel(record: dict, language: str) -> dict:
    return {**record, "label": visible_label(record["author"], language, record.get("staff"))}


def mode(value: str) -> dict:
    return {"type": "mode", "mode": value}


def sync(messages: list[Message], language: str) -> dict:
    return {"type": "sync", "messages": [history_item(message, language) for message in messages]}


def reminder(item: Reminder) -> dict:
    return {"type": "reminder", "id": str(item.public_id), "kind": item.kind, "text": item.text, "requires_ack": True}


def closed(reason: str) -> dict:
    return {"type": "closed", "reason": reason}


def error(code: str, detail: str, **extra) -> dict:
    return {"type": "error", "code": code, "detail": detail, **extra}


def contacts_notice(language: str) -> dict:
    """The notice before `closed` when contacts stop the chat: why, and where to see more."""
    with translation.override(language):
        return {"type": "notice", "kind": "contacts",
                "text": gettext("Chat is paused: your guardian has withdrawn consent, or your safety contacts "
                                "need attention."),
                "link": {"url": reverse("guardians:contacts"), "text": gettext("See what is needed")}}


def minor_mode_notice(language: str) -> dict:
    """CN-MIN-05, CN-MIN-06: the notice before `closed` when chat signals switch minor mode on: why,
    and where to appeal. Reopening the chat continues in minor mode."""
    with translation.override(language):
        return {"type": "notice", "kind": "minor_mode", "text": minor_mode_text(),
                "link": {"url": reverse("minor_mode"), "text": gettext("Appeal or learn more")}}


def minor_mode_text() -> str:
    return gettext("Some of your messages suggest you may be under 18, so minor mode is now on: some characters "
                   "are unavailable, time limits and rest hours apply, and purchases need a guardian. Open the "
                   "chat again to continue. If you are 18 or over, you can appeal.")


def guardian_block_notice(language: str) -> dict:
    """The notice before `closed` when the guardian turns the character off (CN-MIN-09)."""
    with translation.override(language):
        return {"type": "notice", "kind": "guardian_block",
                "text": gettext("Your guardian has turned this character off.")}
