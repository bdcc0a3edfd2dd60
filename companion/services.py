"""Every chat write, each in its own transaction (STYLE.md §3). Never calls the model."""
import datetime as dt
import hashlib
import re
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts.minor_mode import note_age_cue
from accounts.models import User
from accounts.packs import StartNotice
from accounts.selectors import rules_for_user
from companion import llm
from companion.labels import aigc_metadata
from companion.models import (START_NOTICE_PREFIX, Author, Character, Conversation, Message, MessageStatus, Mode,
                              Reminder, ReminderKind, UsageClock)
from companion.protocol import minor_mode_text
from companion.policies import UsageStreak, credited_seconds, due_occurrence, extend_streak, is_exit_request
from companion.reminders import dependence_text, periodic_text, start_notice_text
from companion.selectors import (access_character_by_slug, access_conversation_by_id, conversation_history,
                                 pending_reminders)
from companion.crisis import CrisisNotice, handle_risk, state_on_open
from companion.dependence import dependence_notice_due
from companion.time_limits import add_usage, beijing_day_start, current_lock, lock_reminder
from moderation.minor_content import romance_request
from moderation.pipeline import ScreeningInput, Verdict, screen

# A reply still "streaming" this long after it started belongs to a server that died.
STALE_STREAM = dt.timedelta(minutes=10)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_CLIENT_ID = 64
SCREENING_CONTEXT = 4  # earlier user messages screened with a new one ("…anyway, the pills are ready")


class MessageRefused(Exception):
    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


class ReminderNotFound(Exception):
    """No such reminder, or not this user's."""


class UsageLocked(Exception):
    """CN-MIN-10: a minor over today's limit or in rest hours (`reason`: `time_limit` or `curfew`).
    Nothing was stored; `record_activity` returns the pop-up that goes before `closed`."""
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ChatOpening:
    conversation: Conversation
    character: Character
    history: list[Message]
    reminders: list[Reminder]  # unacknowledged pop-ups to show now
    crisis: CrisisNotice | None = None  # an open safety case follows the user to every chat


@dataclass(frozen=True)
class ReplyJob:
    reply_id: int
    produce_id: str
    language: str
    request: llm.ReplyRequest
    region: str = "CN"  # the user's region: which help line a replaced sentence names
    minor: bool = False  # CN-MIN-12: minor mode's stricter outbound screen
    user: User | None = None  # who asked; finish_reply records their use without reading them again


@dataclass(frozen=True)
class KnownHistory:
    """What a chat socket already holds of its conversation: the latest messages, oldest first, that
    the prompt and the risk screen read, complete up to the message with id `through`. While no message
    was added since (an indexed lookup in the same query as the conversation's lock tells), the next
    message uses it instead of reading and decrypting the window again."""
    through: int | None
    messages: tuple[Message, ...]

    @classmethod
    def of(cls, messages) -> "KnownHistory":
        """The window of `messages` (the conversation's latest, oldest first, none missing at the end)."""
        window = tuple(messages)[-settings.COMPANION_PROMPT_HISTORY_TURNS:]
        return cls(through=window[-1].pk if window else None, messages=window)

    def valid_for(self, latest_id: int | None) -> bool:
        return self.through == latest_id

    def extended(self, *messages: Message) -> "KnownHistory":
        """With `messages` (stored after `through`, in id order) appended."""
        window = (*self.messages, *messages)[-settings.COMPANION_PROMPT_HISTORY_TURNS:]
        return KnownHistory(through=messages[-1].pk if messages else self.through, messages=window)


@dataclass(frozen=True)
class PostedMessage:
    message: Message
    created: bool
    exit_confirmation: Message | None = None
    reply: ReplyJob | None = None
    reminders: tuple[Reminder, ...] = ()  # pop-ups the message itself made due (dependence)
    crisis: CrisisNotice | None = None  # what the risk screen asks the chat to show and broadcast
    refusal: Message | None = None  # a fixed system reply instead of the model's (CN-CON-01, CN-CON-04)
    # The window after this message, for the next one; None when unknown. With a reply planned it runs
    # up to the message before the reply: the caller extends it with the finished reply.
    history: KnownHistory | None = None


@transaction.atomic(durable=True)
def open_chat(*, user: User, character_slug: str, session_key: str, language: str) -> ChatOpening:
    """Resume the user's current conversation with the character, or start one.

    Opening counts as use, may open the start-of-chat disclosure pop-up its policy packs ask for
    (CN-DIS-02, US-NY-02) or, for a user the nightly score flagged, the dependence pop-up
    (CN-EMO-06, CN-DIS-03), and returns every pop-up still waiting for acknowledgement.
    Raises CharacterUnavailable for unknown characters and ones this user may not open.
    """
    character = access_character_by_slug(user, character_slug)
    conversation, _ = Conversation.objects.get_or_create(user=user, character=character, archived_at=None)
    now = timezone.now()
    conversation.messages.filter(status=MessageStatus.STREAMING, created_at__lt=now - STALE_STREAM).update(
        status=MessageStatus.INTERRUPTED)
    _record_activity(user, now, language)
    if dependence_notice_due(user):  # CN-EMO-06 → CN-DIS-03: the nightly flag shows on the next open
        _dependence_reminder(user, language)
    notice_key = _open_start_notice(user, session_key, language)
    crisis = state_on_open(user, conversation, language)
    return ChatOpening(conversation=conversation, character=character, history=conversation_history(conversation),
                       reminders=pending_reminders(user, start_notice_key=notice_key), crisis=crisis)


@transaction.atomic(durable=True)
def record_activity(*, user: User, language: str) -> list[Reminder]:
    """A message, a visible-chat heartbeat or a streamed reply: extend the usage streak.

    Returns periodic reminders that became due, created once however many sockets report the
    same moment (CN-USE-01/02, US-CA-03, US-NY-02, BX-07), and, while a minor is over today's
    limit or in rest hours, the `time_limit` or `curfew` pop-up (CN-MIN-10): the caller then closes
    every socket of the user.
    """
    return _record_activity(user, timezone.now(), language)


def _record_activity(user: User, now: dt.datetime, language: str) -> list[Reminder]:
    clock, _ = UsageClock.objects.select_for_update().get_or_create(user=user)
    gap = dt.timedelta(minutes=settings.COMPANION_CONTINUITY_GAP_MINUTES)
    # BX-07, CN-MIN-10: today's total grows by the time since any socket last reported.
    add_usage(user, now, credited_seconds(clock.last_active_at, now, gap=gap, day_start=beijing_day_start(now)))
    previous = (UsageStreak(started_at=clock.streak_started_at, last_active_at=clock.last_active_at)
                if clock.streak_started_at else None)
    streak = extend_streak(previous, now, gap=gap)
    if previous is None or streak.started_at != previous.started_at:
        clock.reminders_in_streak = 0
    created = []
    rule = rules_for_user(user).periodic
    occurrence = rule and due_occurrence(streak, now, every_minutes=rule.every_minutes,
                                         already_sent=clock.reminders_in_streak)
    if occurrence:
        minutes = max(1, int((now - streak.started_at).total_seconds() // 60))
        reminder, was_created = Reminder.objects.get_or_create(
            user=user, key=f"{rule.kind}:{streak.started_at.isoformat()}:{occurrence}",
            defaults={"kind": rule.kind, "text": periodic_text(rule.parts, minutes=minutes, language=language)})
        clock.reminders_in_streak = occurrence
        if was_created:
            created.append(reminder)
    clock.streak_started_at, clock.last_active_at = streak.started_at, streak.last_active_at
    clock.save()
    if usage_dependence_signal(streak, now) and (reminder := _dependence_reminder(user, language)) is not None:
        created.append(reminder)
    if (lock := current_lock(user, now)) is not None:  # returned every time: it closes the sockets
        created.append(lock_reminder(user, lock, language))
    return created


@transaction.atomic(durable=True)
def usage_lock_reminder(*, user_id: int) -> Reminder | None:
    """CN-MIN-10: the `time_limit` or `curfew` pop-up (in the user's language) if the user's limits lock
    chat now, e.g. right after their guardian tightened them; None if they may chat (or are gone)."""
    user = User.objects.filter(pk=user_id).first()
    if user is None or (lock := current_lock(user, timezone.now())) is None:
        return None
    return lock_reminder(user, lock, user.language)


def usage_dependence_signal(streak: UsageStreak, now: dt.datetime) -> bool:
    """CN-EMO-06, BX-06: one unbroken session this long is a sign of over-reliance, answered like the
    spoken cues: the AI-disclosure pop-up with offline suggestions (at most daily)."""
    return now - streak.started_at >= dt.timedelta(hours=settings.COMPANION_LONG_SESSION_HOURS)


def _open_start_notice(user: User, session_key: str, language: str) -> str | None:
    """Create this login's (CN-DIS-02) or today's (US-NY-02) start notice once; return its key."""
    notice = rules_for_user(user).start_notice
    if notice == StartNotice.NONE:
        return None
    if notice == StartNotice.EVERY_LOGIN:
        key = f"{START_NOTICE_PREFIX}login:" + hashlib.sha256(session_key.encode()).hexdigest()[:24]
    else:
        key = f"{START_NOTICE_PREFIX}day:{timezone.localdate().isoformat()}"
    Reminder.objects.get_or_create(user=user, key=key, defaults={
        "kind": ReminderKind.DISCLOSURE, "text": start_notice_text(language)})
    return key


@transaction.atomic(durable=True)
def acknowledge_reminder(*, user: User, reminder_id: str) -> Reminder:
    """The user dismissed a pop-up; the first acknowledgement time is kept. Idempotent."""
    try:
        reminder = Reminder.objects.select_for_update().get(public_id=uuid.UUID(reminder_id), user=user)
    except (ValueError, Reminder.DoesNotExist):
        raise ReminderNotFound(reminder_id) from None
    if reminder.acknowledged_at is None:
        reminder.acknowledged_at = timezone.now()
        reminder.save(update_fields=["acknowledged_at"])
    return reminder


def clean_text(text: str) -> str:
    """Drop control characters (keeping newlines and tabs) and surrounding space."""
    return _CONTROL.sub("", text).strip()


def post_user_message(*, user: User, conversation_id: int, text: str, client_id: str, language: str,
                      known: KnownHistory | None = None) -> PostedMessage:
    """Store a user message once per client_id; plan the AI reply or the exit.

    An exit keyword (CN-USE-04) stores a fixed confirmation instead of planning a reply, so the
    model is never called. In `waiting` and `human` modes no reply is planned (BX-03). The
    message counts as use (CN-USE-01) and may make reminders due, returned in `reminders`.
    `known` is the window the caller kept from its last message (`PostedMessage.history`); it is
    used only if no message was added since.
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
    try:
        return _store_user_message(user=user, conversation_id=conversation_id, text=text, client_id=client_id,
                                   language=language, known=known)
    except IntegrityError:
        # A resend after reconnect (contracts §5): the unique (conversation, client_id) index refused the
        # second copy and the transaction rolled back whole. Cheaper than looking for it before every message.
        existing = _stored_with_client_id(user=user, conversation_id=conversation_id, client_id=client_id)
        if existing is None:
            raise
        return PostedMessage(message=existing, created=False)


@transaction.atomic(durable=True)
def _stored_with_client_id(*, user: User, conversation_id: int, client_id: str) -> Message | None:
    conversation = access_conversation_by_id(user, conversation_id)
    return conversation.messages.filter(client_id=client_id).first()


@transaction.atomic(durable=True)
def _store_user_message(*, user: User, conversation_id: int, text: str, client_id: str, language: str,
                        known: KnownHistory | None) -> PostedMessage:
    latest = Message.objects.filter(conversation=OuterRef("pk")).order_by("-id").values("id")[:1]
    conversation = access_conversation_by_id(user, conversation_id, lock=True,
                                             annotate={"latest_message_id": Subquery(latest)})
    # CN-MIN-10: a message racing the close of a locked minor's sockets is refused, never stored or answered.
    if (lock := current_lock(user, timezone.now())) is not None:
        raise UsageLocked(lock.reason)
    if known is None or not known.valid_for(conversation.latest_message_id):
        known = KnownHistory.of(conversation_history(conversation, limit=settings.COMPANION_PROMPT_HISTORY_TURNS))
    history = list(known.messages)
    # CN-CRI-01, CN-CON-02: every message is screened, with the user's recent messages as context,
    # and its verdict stored with it, before any model call.
    recent = tuple(past.text for past in history if past.author == Author.USER)[-SCREENING_CONTEXT:]
    verdict = screen(ScreeningInput(text=text, direction="inbound", language=language, history=recent))
    message = Message.objects.create(conversation=conversation, author=Author.USER, text=text, client_id=client_id,
                                     risk_level=verdict.level, risk=_risk_record(verdict))
    if is_exit_request(text, settings.COMPANION_EXIT_KEYWORDS):
        # The exit is honoured at once (CN-USE-04), but "我不想活了，退出" still opens a case, tells the
        # contacts and shows the help card before the chat closes (CN-CRI-04, CN-CRI-07).
        crisis = (handle_risk(user=user, conversation=conversation, message=message, verdict=verdict,
                              language=language) if verdict.at_least("high_risk") else None)
        return PostedMessage(message=message, created=True, crisis=crisis,
                             exit_confirmation=_store_exit_confirmation(conversation, user.language))
    crisis = None
    if verdict.at_least("distress") or conversation.mode != Mode.AI:
        crisis = handle_risk(user=user, conversation=conversation, message=message, verdict=verdict,
                             language=language)
    # CN-MIN-05: a declared adult whose messages say they are a minor switches to minor mode; this
    # message gets the explanation instead of a reply, and every open chat ends so it reopens in minor mode.
    switched = note_age_cue(user=user, text=text)
    refusal = None
    if not (crisis and crisis.stop_ai) and (switched or refused_topic(verdict, user, text)):
        with translation.override(language):
            refusal = Message.objects.create(conversation=conversation, author=Author.SYSTEM, text=minor_mode_text()
                                             if switched else gettext(
                "I can't continue with that topic. Let's talk about something else."))
    stored = [message] + [extra for extra in (crisis and crisis.safety_message, refusal) if extra is not None]
    wants_reply = conversation.mode == Mode.AI and not (crisis and crisis.stop_ai) and refusal is None
    reply = (_plan_reply(conversation, user, message, history, support=verdict.level == "distress")
             if wants_reply else None)
    # With a reply coming, its end records the use (finish_reply): one write fewer before the first token.
    reminders = [] if reply else _record_activity(user, timezone.now(), language)
    if "dependence" in verdict.categories and (reminder := _dependence_reminder(user, language)) is not None:
        reminders.append(reminder)
    return PostedMessage(message=message, created=True, reply=reply, reminders=tuple(reminders), crisis=crisis,
                         refusal=refusal, history=known.extended(*sorted(stored, key=lambda row: row.pk)))


def refused_topic(verdict: Verdict, user: User, text: str = "") -> bool:
    """Requests the model is never asked (CN-CON-01): prohibited content, sexual content involving
    minors, and from a minor's account any sexual content (CN-MIN-01) or request for a romantic
    relationship, whatever the character (CN-MIN-02)."""
    blocked = {"prohibited", "minor_sexual"} | ({"sexual"} if user.is_minor else set())
    return bool(blocked & set(verdict.categories)) or (user.is_minor and romance_request(text))


def _risk_record(verdict: Verdict) -> dict:
    if verdict.level == "none" and not verdict.categories:
        return {"level": "none", "versions": dict(verdict.versions)}
    return {"level": verdict.level, "categories": list(verdict.categories), "score": round(verdict.score, 4),
            "versions": dict(verdict.versions),
            "stages": [finding.stage for finding in verdict.findings]}


def _dependence_reminder(user: User, language: str) -> Reminder | None:
    """CN-DIS-03, BX-06: signs of over-reliance open a pop-up saying this is AI, with offline
    suggestions; at most once per COMPANION_DEPENDENCE_REMINDER_HOURS."""
    UsageClock.objects.select_for_update().get_or_create(user=user)  # one decision per user at a time
    now = timezone.now()
    window = dt.timedelta(hours=settings.COMPANION_DEPENDENCE_REMINDER_HOURS)
    if Reminder.objects.filter(user=user, kind=ReminderKind.DEPENDENCE, created_at__gte=now - window).exists():
        return None
    return Reminder.objects.create(user=user, kind=ReminderKind.DEPENDENCE, key=f"dependence:{now.isoformat()}",
                                   text=dependence_text(language))


def _plan_reply(conversation: Conversation, user: User, message: Message, history: list[Message], *,
                support: bool = False) -> ReplyJob:
    """`history` is what came before `message` (oldest first); the prompt ends with `message`."""
    provider = llm.provider()
    reply = Message.objects.create(conversation=conversation, author=Author.AI, status=MessageStatus.STREAMING,
                                   reply_to=message, model_name=f"{provider.name}:{provider.model}")
    turns = tuple(
        llm.Turn(role="user" if past.author == Author.USER else "assistant", content=past.text)
        for past in [*history, message]
        if past.author in (Author.USER, Author.AI, Author.OPERATOR) and past.text
    )
    language = llm.reply_language(message.text, user.language)
    character = conversation.character
    request = llm.ReplyRequest(character_name=character.name_for(language), character_role=character.role,
                               persona=character.persona_for(language), language=language, history=turns,
                               support=support)
    return ReplyJob(reply_id=reply.pk, produce_id=str(reply.public_id), language=language, request=request,
                    region=user.region, minor=user.is_minor, user=user)


@dataclass(frozen=True)
class FinishedReply:
    message: Message
    reminders: list[Reminder]


@transaction.atomic(durable=True)
def finish_reply(*, reply_id: int, text: str, status: str, flags: list[list[str]] = (),
                 language: str = "zh-hans", user: User | None = None) -> FinishedReply:
    """Store the streamed text with its implicit AIGC label (CN-DIS-05) and the categories of
    clauses the outbound screen replaced (never their text). Reading a streamed reply counts as
    use (CN-USE-01): reminders it made due are returned. Idempotent. `user`, the socket's own
    user, saves reading the owner again; a reply of someone else's conversation ignores it."""
    reply = Message.objects.select_related("conversation").select_for_update(of=("self",)).get(pk=reply_id)
    if reply.status != MessageStatus.STREAMING:
        return FinishedReply(message=reply, reminders=[])
    if user is None or user.pk != reply.conversation.user_id:
        user = User.objects.get(pk=reply.conversation.user_id)
    reply.text = text
    reply.status = status
    reply.completed_at = timezone.now()
    reply.aigc = aigc_metadata(produce_id=str(reply.public_id), text=text, model=reply.model_name)
    reply.screening_flags = list(flags)
    reply.save(update_fields=["text", "status", "completed_at", "aigc", "screening_flags"])
    return FinishedReply(message=reply, reminders=_record_activity(user, reply.completed_at, language))


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
