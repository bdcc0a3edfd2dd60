"""Streaming an AI reply to a socket: the async half of generation (docs/decisions.md, D-04).

Generation runs as an asyncio task in the ASGI process that holds the user's socket, so the
first token leaves without a broker hop and cancelling the task closes the model's stream.
"""
import asyncio
import logging
from collections.abc import Awaitable, Callable

from django.utils import translation
from django.utils.translation import gettext

from companion import llm, protocol
from companion.asyncdb import in_db_thread
from companion.models import MessageStatus
from companion.services import FinishedReply, ReplyJob, finish_reply
from moderation.streaming import StreamScreen

logger = logging.getLogger(__name__)

Send = Callable[[dict], Awaitable[None]]


async def stream_reply(job: ReplyJob, send: Send, *, language: str) -> FinishedReply:
    """Send message_start, deltas and message_end for `job`, then return the stored reply and
    the reminders that reading it made due.

    `language` is the interface language (labels, errors); the reply itself is written in
    `job.language`, the language the user wrote in.

    Cancelling the task stops the model, stores what was produced with status `cancelled`
    and still returns normally, so the canceller can await it.
    """
    await send(protocol.message_start(job.produce_id, "ai", language))
    parts: list[str] = []
    status = MessageStatus.COMPLETE
    failure = None
    user_turns = tuple(turn.content for turn in job.request.history if turn.role == "user")
    screen = StreamScreen(language=job.language, history=user_turns[-3:], region=job.region, minor=job.minor)

    async def release(pieces):
        for piece in pieces:
            parts.append(piece)
            await send(protocol.message_delta(job.produce_id, piece))

    try:
        async for chunk in llm.provider().stream(job.request):
            await release(screen.feed(chunk))
        await release(screen.finish())
    except asyncio.CancelledError:
        status = MessageStatus.CANCELLED  # text still held for screening is dropped, never shown
    except llm.LLMUnavailable as error:
        logger.warning("reply %s failed: %s", job.produce_id, error)
        status, failure = MessageStatus.FAILED, error
        await release(screen.finish())
    # What is stored is exactly what the user was shown, so the AIGC HMAC covers the shown text.
    save = in_db_thread(finish_reply)(reply_id=job.reply_id, text="".join(parts), status=status,
                                      flags=screen.flags, language=language, user=job.user)
    finished = await asyncio.shield(save)
    reply = finished.message
    if failure is not None:
        with translation.override(language):
            detail = gettext("The AI could not answer right now. Please try again.")
        await send(protocol.error("llm_unavailable", detail, id=job.produce_id))
    await send(protocol.message_end(reply))
    return finished
