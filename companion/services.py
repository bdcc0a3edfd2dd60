"""Every chat write, each in its own transaction (STYLE.md §3). Never calls the model."""
import datetime as dt
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts.models import User
from companion import llm
from companion.labels import aigc_metadata
from companion.models import Author, Character, Conversation, Message, MessageStatus, Mode
from companion.policies import is_exit_request
from companion.selectors import access_character_by_slug, access_conversation_by_id, conversation_history

# A reply still "streaming" this long after it started belongs to a server that died.
STALE_STREAM = dt.timedelta(minutes=10)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_CLIENT_ID = 64


class MessageRefused(Exception):
    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class ChatOpening:
    conversation: Conversation
    character: Character
    history: list[Message]


@dataclass(frozen=True)
class ReplyJob:
    reply_id: int
    produce_id: str
    language: str
    request: llm.ReplyRequest


@dataclass(frozen=True)
class PostedMessage:
    message: Message
    created: bool
    exit_confirmation: Message | None = None
    reply: ReplyJob | None = None


@transaction.atomic(durable=True)
def open_chat(*, user: User, character_slug: str) -> ChatOpening:
    """Resume the user's current conversation with the character, or start one.

    Raises CharacterUnavailable for unknown characters and ones this user may not open.
    """
    character = access_character_by_slug(user, character_slug)
    conversation, _ = Conversation.objects.get_or_create(user=user, character=character, archived_at=None)
    conversation.messages.filter(status=MessageStatus.STREAMING,
                                 created_at__lt=timezone.now() - STALE_STREAM).update(
        status=MessageStatus.INTERRUPTED)
    return ChatOpening(conversation=conversation, character=character, history=conversation_history(conversation))


def clean_text(text: str) -> str:
    """Drop control characters (keeping newlines and tabs) and surrounding space."""
    return _CONTROL.sub("", text).strip()


@transaction.atomic(durable=True)
def post_user_message(*, user: User, conversation_id: int, text: str, client_id: str) -> PostedMessage:
    """Store a user message once per client_id; plan the AI reply or the exit.

    An exit keyword (CN-USE-04) stores a fixed confirmation instead of planning a reply, so the
    model is never called. In `waiting` and `human` modes no reply is planned (BX-03).
    """
    text = clean_text(text)
    if not text:
        raise MessageRefused("empty", gettext("The message is empty."))
    if len(text) > settings.COMPANION_MAX_MESSAGE_CHARS:
        raise MessageRefused("too_long", gettext("Messages can be at most %(limit)d characters long.")
                             % {"limit": settings.COMPANION_MAX_MESSAGE_CHARS})
    if not client_id or len(client_id) > MAX_CLIENT_ID:
        raise MessageRefused("bad_client_id", gettext("client_id must be 1 to %(limit)d characters.")
                             % {"limit": MAX_CLIENT_ID})
    conversation = access_conversation_by_id(user, conversation_id, lock=True)
    existing = conversation.messages.filter(client_id=client_id).first()
    if existing is not None:
        return PostedMessage(message=existing, created=False)
    message = Message.objects.create(conversation=conversation, author=Author.USER, text=text, client_id=client_id)
    if is_exit_request(text, settings.COMPANION_EXIT_KEYWORDS):
        return PostedMessage(message=message, created=True,
                             exit_confirmation=_store_exit_confirmation(conversation, user.language))
    if conversation.mode != Mode.AI:
        return PostedMessage(message=message, created=True)
    return PostedMessage(message=message, created=True, reply=_plan_reply(conversation, user, message))


def _plan_reply(conversation: Conversation, user: User, message: Message) -> ReplyJob:
    provider = llm.provider()
    reply = Message.objects.create(conversation=conversation, author=Author.AI, status=MessageStatus.STREAMING,
                                   reply_to=message, model_name=f"{provider.name}:{provider.model}")
    turns = tuple(
        llm.Turn(role="user" if past.author == Author.USER else "assistant", content=past.text)
        for past in conversation_history(conversation, limit=settings.COMPANION_PROMPT_HISTORY_TURNS + 1)
        if past.author in (Author.USER, Author.AI, Author.OPERATOR) and past.text and past.pk != reply.pk
    )
    language = llm.reply_language(message.text, user.language)
    character = conversation.character
    request = llm.ReplyRequest(character_name=character.name_for(language), character_role=character.role,
                               persona=character.persona_for(language), language=language, history=turns)
    return ReplyJob(reply_id=reply.pk, produce_id=str(reply.public_id), language=language, request=request)


@transaction.atomic(durable=True)
def finish_reply(*, reply_id: int, text: str, status: str) -> Message:
    """Store the streamed text with its implicit AIGC label (CN-DIS-05). Idempotent."""
    reply = Message.objects.select_for_update().get(pk=reply_id)
    if reply.status != MessageStatus.STREAMING:
        return reply
    reply.text = text
    reply.status = status
    reply.completed_at = timezone.now()
    reply.aigc = aigc_metadata(produce_id=str(reply.public_id), text=text, model=reply.model_name)
    reply.save(update_fields=["text", "status", "completed_at", "aigc"])
    return reply


@transaction.atomic(durable=True)
def exit_chat(*, user: User, conversation_id: int) -> Message:
    """The exit button (CN-USE-03): store the fixed confirmation; the caller closes the socket."""
    conversation = access_conversation_by_id(user, conversation_id, lock=True)
    return _store_exit_confirmation(conversation, user.language)


def _store_exit_confirmation(conversation: Conversation, language: str) -> Message:
    # CN-USE-06: a static, neutral text; nothing that invites the user to stay.
    with translation.override(language):
        text = gettext("You have ended this conversation.")
    return Message.objects.create(conversation=conversation, author=Author.SYSTEM, text=text)
