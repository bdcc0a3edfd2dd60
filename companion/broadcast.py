"""Group names and the events that carry crisis and takeover changes to sockets in any process.

Chat sockets join `chat.conversation.<id>` (every tab of one conversation) and `chat.user.<id>`
(every socket of one user); console sockets join `console.operators` and, for each case they
open, the case conversation's group. Events carry plain data (message records, frames), so
receivers never need a database read to pass them on; each receiver labels in its own language.
"""
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from companion import protocol

CONSOLE_GROUP = "console.operators"


def conversation_group(conversation_id: int) -> str:
    return f"chat.conversation.{conversation_id}"


def user_group(user_id: int) -> str:
    return f"chat.user.{user_id}"


def records(messages) -> list[dict]:
    return [protocol.history_item(message, "en") for message in messages]


async def send_messages(conversation_id: int, messages, *, origin: str = "") -> None:
    """Stored messages (operator, system) to every tab of the conversation and to consoles watching it."""
    if messages:
        await get_channel_layer().group_send(conversation_group(conversation_id), {
            "type": "chat.messages", "records": records(messages), "origin": origin})


async def send_mode(user_id: int, mode: str, *, origin: str = "", crisis: dict | None = None) -> None:
    """Every socket of the user: the new takeover mode; outside `ai` the model stops at once (BX-03)."""
    await get_channel_layer().group_send(user_group(user_id), {
        "type": "chat.mode", "mode": mode, "origin": origin, "crisis": crisis})


async def send_crisis(user_id: int, crisis: dict, *, origin: str = "", stop_ai: bool = True) -> None:
    await get_channel_layer().group_send(user_group(user_id), {
        "type": "chat.crisis", "frame": crisis, "origin": origin, "stop_ai": stop_ai})


async def close_user_chats(user_id: int, reason: str, *, code: int = 1000, notices: dict | None = None,
                           character: str | None = None) -> None:
    """End every open chat socket of the user (only those on the `character` slug, if given) with
    `closed` (contracts §5) and this close code, after the `notices` frame of the socket's language
    (or of LANGUAGE_CODE) if given: a notice, or the time-limit or rest-hours pop-up (CN-MIN-10)."""
    await get_channel_layer().group_send(user_group(user_id), {
        "type": "chat.closed", "origin": "", "reason": reason, "code": code, "notices": notices or {},
        "character": character})


async def console_event(event: str, case_id: int, summaries: dict | None = None) -> None:
    """`case_opened`, `case_updated` or `escalation` to every console. With `summaries` (the case
    summary per language) consoles pass the case on without reading the database first."""
    await get_channel_layer().group_send(CONSOLE_GROUP, {"type": "console.case", "event": event, "case_id": case_id,
                                                         "summaries": summaries})


async def console_presence() -> None:
    await get_channel_layer().group_send(CONSOLE_GROUP, {"type": "console.presence"})


async def announce_fallback(fallback) -> None:
    """CN-CRI-08: the second preset message reaches the user, and every console sees the escalation."""
    case = fallback.case
    await send_messages(case.conversation_id, [fallback.message])
    await send_crisis(case.user_id, fallback.notice.frame())
    await console_event("escalation", case.pk)


announce_fallback_sync = async_to_sync(announce_fallback)
