"""The chat socket (shared/contracts.md §5): parse, authenticate, call a service, reply."""
import asyncio
import json
import time
from collections import deque

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts.consents import missing_for_chat
from accounts.identity import needs_phone_verification
from accounts.policies import interface_language
from companion import broadcast, llm, notices, protocol, sanctions
from companion.asyncdb import in_db_thread
from companion.crisis import run_sla_fallback
from companion.elderly import scam_warning_for
from companion.labels import disclosure_text
from companion.models import Mode
from companion.policies import within_rate
from companion.protocol import FrameError
from companion.replies import stream_reply
from companion.selectors import CharacterBlocked, CharacterUnavailable, ConversationNotFound
from companion.services import (MessageRefused, ReminderNotFound, UsageLocked, acknowledge_reminder, exit_chat,
                                KnownHistory, open_chat, post_user_message, record_activity)
from companion.time_limits import LOCK_KINDS, current_lock
from guardians.selectors import chat_gate


GROUP_REFRESH_SECONDS = 3600
_timers: set[asyncio.Task] = set()


def start_sla_timer(case_id: int, seconds: float) -> None:
    """Embedded default (eager Celery, one process): the SLA check runs on this server's loop,
    independent of the socket that opened the case (CN-CRI-08)."""
    async def check():
        await asyncio.sleep(seconds)
        fallback = await in_db_thread(run_sla_fallback)(case_id=case_id)
        if fallback is not None:
            await broadcast.announce_fallback(fallback)

    task = asyncio.get_running_loop().create_task(check())
    _timers.add(task)
    task.add_done_callback(_timers.discard)


class ChatConsumer(AsyncJsonWebsocketConsumer):
    generation: asyncio.Task | None = None
    streaming = False  # cleared as soon as message_end is out, before the relay to other tabs
    last_heartbeat = 0.0
    closing = False
    restricted = False  # CN-CRI-09 `restrict`: no AI text; kept current by `chat.sanction` events
    # The conversation's latest messages as this socket last stored or saw them (services.KnownHistory);
    # None after another tab or an operator added one, so the next message reads them from the database.
    known: KnownHistory | None = None

    async def connect(self):
        self.user = self.scope["user"]
        if not self.user.is_authenticated:
            return await self.close(code=4401)
        if await in_db_thread(missing_for_chat)(self.user):  # CN-REG-01: the chat page asks for consent first
            return await self.close(code=4412)
        if await in_db_thread(needs_phone_verification)(self.user):  # CN-REG-04: the chat page asks for the code
            return await self.close(code=4413)
        if (await in_db_thread(chat_gate)(self.user)).blocking:  # CN-REG-03, CN-MIN-03: the page shows what is missing
            return await self.close(code=4414)
        self.language = interface_language(self.scope["cookies"].get(settings.LANGUAGE_COOKIE_NAME),
                                           self.user.language, dict(settings.LANGUAGES))
        # Joined before the check, so a sanction imposed meanwhile still reaches this socket.
        self.user_group = broadcast.user_group(self.user.pk)  # every socket of this user, any character
        await self.channel_layer.group_add(self.user_group, self.channel_name)
        standing = await in_db_thread(sanctions.chat_standing)(user=self.user, language=self.language)
        if standing.closes:  # CN-CRI-09: suspended or terminated: the notice, never `ready`
            self.closing = True
            await self.accept()
            await self.send_json(standing.notice)
            await self.send_json(protocol.closed("suspended"))
            return await self.close(code=4403)
        self.restricted = standing.restricted
        slug = self.scope["url_route"]["kwargs"]["character_slug"]
        ended = await in_db_thread(notices.ended_notice_frame)(character_slug=slug, language=self.language)
        if ended is not None:  # CN-SVC-01: the character or the service has ended: the notice, never `ready`
            self.closing = True
            await self.accept()
            await self.send_json(ended)
            await self.send_json(protocol.closed("service_ended"))
            return await self.close(code=4410)
        lock = await in_db_thread(current_lock)(self.user, timezone.now())
        if lock is not None:  # CN-MIN-10: over today's limit or in rest hours: `closed`, never `ready`
            self.closing = True
            await self.accept()
            await self.send_json(protocol.closed(lock.reason))
            return await self.close(code=protocol.LOCK_CLOSE_CODES[lock.reason])
        try:
            opening = await in_db_thread(open_chat)(
                user=self.user, character_slug=slug,
                session_key=self.scope["session"].session_key or "", language=self.language)
        except CharacterUnavailable as refusal:
            self.closing = True
            await self.accept()
            if isinstance(refusal, CharacterBlocked):  # CN-MIN-09: say who turned it off
                await self.send_json(protocol.guardian_block_notice(self.language))
            await self.send_json(protocol.closed("blocked"))
            return await self.close(code=4403)
        self.conversation = opening.conversation
        self.known = KnownHistory.of(opening.history)
        self.group = broadcast.conversation_group(self.conversation.pk)
        self.recent_messages = deque(maxlen=settings.COMPANION_MESSAGES_PER_MINUTE)
        self.recent_errors = deque(maxlen=settings.COMPANION_ERRORS_BEFORE_CLOSE)
        await self.join_groups()
        await self.accept()
        character, provider = opening.character, llm.provider()
        await self.send_json(protocol.ready(
            conversation=str(self.conversation.public_id), mode=self.conversation.mode,
            minor_mode=self.user.is_minor,
            disclosure=disclosure_text(self.language, character.name_for(self.language)),
            history=[protocol.history_item(message, self.language) for message in opening.history],
            character={"slug": character.slug, "name": character.name_for(self.language), "role": character.role},
            model={"provider": provider.name, "model": provider.model, "demo": provider.name == "offline"},
            limits={"max_message_chars": settings.COMPANION_MAX_MESSAGE_CHARS,
                    "max_frame_bytes": settings.COMPANION_MAX_FRAME_BYTES,
                    "messages_per_minute": settings.COMPANION_MESSAGES_PER_MINUTE,
                    "heartbeat_seconds": settings.COMPANION_HEARTBEAT_SECONDS},
            pending_reminders=[str(item.public_id) for item in opening.reminders]))
        for item in opening.reminders:
            await self.send_json(protocol.reminder(item))
        if opening.crisis is not None:
            await self.send_json(opening.crisis.frame())
        if standing.notice is not None:
            await self.send_json(standing.notice)

    async def join_groups(self):
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.channel_layer.group_add(self.user_group, self.channel_name)
        self.groups_joined_at = time.time()

    async def receive(self, text_data=None, bytes_data=None):
        if self.closing:
            return
        # Channel layers forget group members after a day (wall clock); a socket open that long rejoins.
        if time.time() - self.groups_joined_at > GROUP_REFRESH_SECONDS:
            await self.join_groups()
        with translation.override(self.language):
            try:
                frame = self.parse(text_data, bytes_data)
                handler = {"message": self.on_message, "cancel": self.on_cancel, "exit": self.on_exit,
                           "ack": self.on_ack, "heartbeat": self.on_heartbeat}.get(frame["type"])
                if handler is None:
                    raise FrameError("unknown_type", gettext("Unknown frame type."))
                await handler(frame)
            except (FrameError, MessageRefused) as error:
                await self.refuse(error.code, error.detail, frame_too_large=error.code == "frame_too_large")
            except ConversationNotFound:
                await self.refuse("not_found", gettext("No such conversation."))
            except ReminderNotFound:
                await self.refuse("not_found", gettext("No such reminder."))

    def parse(self, text_data, bytes_data) -> dict:
        if text_data is None:
            raise FrameError("bad_frame", gettext("Send JSON text frames."))
        if len(text_data.encode("utf-8")) > settings.COMPANION_MAX_FRAME_BYTES:
            raise FrameError("frame_too_large", gettext("The frame is too large."))
        try:
            frame = json.loads(text_data)
        except ValueError:
            raise FrameError("bad_json", gettext("The frame is not valid JSON.")) from None
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            raise FrameError("bad_frame", gettext("A frame is a JSON object with a string `type`."))
        return frame

    async def refuse(self, code: str, detail: str, *, frame_too_large: bool = False):
        """Answer bad input with an error frame; close only on abuse."""
        await self.send_json(protocol.error(code, detail))
        now = time.monotonic()
        abusive = frame_too_large or not within_rate(self.recent_errors, now, limit=self.recent_errors.maxlen)
        self.recent_errors.append(now)
        if abusive:
            self.closing = True
            await self.close(code=1009 if frame_too_large else 4429)

    async def on_message(self, frame: dict):
        text, client_id = frame.get("text"), frame.get("client_id")
        if not isinstance(text, str) or not isinstance(client_id, str):
            raise FrameError("bad_frame", gettext("A message needs string `text` and `client_id`."))
        if "conversation" in frame and frame["conversation"] != str(self.conversation.public_id):
            raise ConversationNotFound(frame["conversation"])
        if self.streaming:
            return await self.send_json(protocol.error(
                "busy", gettext("Wait for the reply to finish, or stop it first."), client_id=client_id))
        now = time.monotonic()
        if not within_rate(self.recent_messages, now, limit=self.recent_messages.maxlen):
            return await self.send_json(protocol.error(
                "rate_limited", gettext("You are sending messages too quickly."), client_id=client_id))
        if self.restricted and (refusal := await in_db_thread(sanctions.restriction_refusal)(
                user=self.user, conversation_id=self.conversation.pk, text=text, language=self.language)):
            return await self.send_json(protocol.error(refusal.code, refusal.detail, client_id=client_id))
        try:
            posted = await in_db_thread(post_user_message)(
                user=self.user, conversation_id=self.conversation.pk, text=text, client_id=client_id,
                language=self.language, known=self.known)
        except UsageLocked:  # CN-MIN-10: raced the close; not stored, never reaches the model
            return await self.send_reminders(
                await in_db_thread(record_activity)(user=self.user, language=self.language))
        await self.send_json(protocol.message_ack(posted.message))
        self.known = posted.history
        if not posted.created:
            return
        self.recent_messages.append(now)
        if (warning := await scam_warning_for(  # CN-ELD-04: the card comes before the reply, never instead of it
                age_band=self.user.age_band, region=self.user.region, text=posted.message.text,
                conversation_public_id=str(self.conversation.public_id), language=self.language)) is not None:
            await self.send_json(warning)
        if posted.crisis is not None:
            await self.on_crisis(posted.crisis)
        if posted.refusal is not None:
            await self.show_stored(posted.refusal)
        if posted.reply is not None:
            self.streaming = True
            self.generation = asyncio.create_task(self.generate(posted.reply))
            await asyncio.sleep(0)  # the reply's first clause goes out before the relays to other tabs
        await self.send_reminders(posted.reminders)
        await self.relay(protocol.sync([posted.message], self.language))
        if posted.exit_confirmation is not None:
            await self.leave(posted.exit_confirmation)

    async def show_stored(self, message):
        """A stored system message: whole to this tab, through the group to the others and to consoles."""
        for frame in protocol.whole_message(message, self.language):
            await self.send_json(frame)
        await broadcast.send_messages(self.conversation.pk, [message], origin=self.channel_name)

    async def on_crisis(self, notice):
        """CN-CRI-02..08: the card, the preset reply and the takeover reach this tab at once and every
        other socket of the user through the groups; consoles hear of the case first."""
        if notice.console_event is not None:
            await broadcast.console_event(notice.console_event, notice.case_id, notice.summaries)
        if notice.text:
            await self.send_json(notice.frame())
        if notice.safety_message is not None:
            await self.show_stored(notice.safety_message)
        if notice.mode is not None:
            await self.send_json(protocol.mode(notice.mode))
            await broadcast.send_mode(self.user.pk, notice.mode, origin=self.channel_name,
                                      crisis=notice.frame() if notice.stop_ai else None)
        elif notice.stop_ai and notice.text:
            await broadcast.send_crisis(self.user.pk, notice.frame(), origin=self.channel_name)
        if notice.sla_seconds is not None and settings.CELERY_TASK_ALWAYS_EAGER:
            start_sla_timer(notice.case_id, notice.sla_seconds)

    async def generate(self, job):
        window = self.known
        try:
            finished = await stream_reply(job, self.send_stream_frame, language=self.language)
        finally:
            self.streaming = False
        if window is not None and self.known is window:  # nothing stored elsewhere meanwhile
            self.known = window.extended(finished.message)
        await self.relay(protocol.sync([finished.message], self.language))
        if not self.closing:
            await self.send_reminders(finished.reminders)  # streaming counts as use

    async def on_heartbeat(self, frame: dict):
        # A visible chat is in use even when the user only reads; extra heartbeats are ignored.
        if time.monotonic() - self.last_heartbeat >= settings.COMPANION_HEARTBEAT_SECONDS / 3:
            self.last_heartbeat = time.monotonic()
            await self.send_reminders(
                await in_db_thread(record_activity)(user=self.user, language=self.language))

    async def send_reminders(self, reminders):
        """Reminders go to every socket of the user, whichever socket made them due. A time-limit or
        rest-hours pop-up (CN-MIN-10) closes them all after it, this one included."""
        for item in reminders:
            if item.kind not in LOCK_KINDS:
                await self.channel_layer.group_send(self.user_group, {"type": "chat.reminder",
                                                                      "frame": protocol.reminder(item)})
        for item in reminders:
            if item.kind in LOCK_KINDS:
                await broadcast.close_user_chats(self.user.pk, item.kind, code=protocol.LOCK_CLOSE_CODES[item.kind],
                                                 notices={settings.LANGUAGE_CODE: protocol.reminder(item)})
                return

    async def send_stream_frame(self, frame: dict):
        if not self.closing:  # BX-17: after exit nothing more reaches the user
            await self.send_json(frame)

    async def on_cancel(self, frame: dict):
        await self.stop_generation()

    async def on_exit(self, frame: dict):
        await self.leave(await in_db_thread(exit_chat)(user=self.user, conversation_id=self.conversation.pk))

    async def on_ack(self, frame: dict):
        if not isinstance(frame.get("reminder_id"), str):
            raise FrameError("bad_frame", gettext("An ack needs a string `reminder_id`."))
        await in_db_thread(acknowledge_reminder)(user=self.user, reminder_id=frame["reminder_id"])

    async def stop_generation(self):
        if self.generation is not None and not self.generation.done():
            self.generation.cancel()
            await asyncio.gather(self.generation, return_exceptions=True)

    async def leave(self, confirmation):
        """CN-USE-03/04, BX-17: stop generating at once, confirm, close every tab of this conversation."""
        self.closing = True
        await self.stop_generation()
        for outgoing in protocol.whole_message(confirmation, self.language):
            await self.send_json(outgoing)
        await self.send_json(protocol.closed("exit"))
        await self.channel_layer.group_send(self.group, {"type": "chat.closed", "origin": self.channel_name,
                                                         "reason": "exit"})
        await self.close()

    async def relay(self, frame: dict):
        """Show other open tabs of this conversation what happened here."""
        await self.channel_layer.group_send(self.group, {"type": "chat.relay", "origin": self.channel_name,
                                                         "frame": frame})

    async def chat_relay(self, event):
        if event["origin"] != self.channel_name and not self.closing:
            self.known = None  # another tab stored a message
            await self.send_json(event["frame"])

    async def chat_reminder(self, event):
        if not self.closing:
            await self.send_json(event["frame"])

    async def chat_messages(self, event):
        """Stored operator and system messages, from a console or another tab."""
        if event.get("origin") != self.channel_name and not self.closing:
            self.known = None
            for record in event["records"]:
                for frame in protocol.record_frames(record, self.language):
                    await self.send_json(frame)

    async def chat_mode(self, event):
        if event.get("origin") == self.channel_name or self.closing:
            return
        if event["mode"] != Mode.AI:
            await self.stop_generation()  # BX-03: no AI text in `waiting` or `human`
        if event.get("crisis"):
            await self.send_json(event["crisis"])
        await self.send_json(protocol.mode(event["mode"]))

    async def chat_crisis(self, event):
        if event.get("origin") == self.channel_name or self.closing:
            return
        if event.get("stop_ai"):
            await self.stop_generation()
        await self.send_json(event["frame"])

    async def chat_closed(self, event):
        if event.get("character") not in (None, self.scope["url_route"]["kwargs"]["character_slug"]):
            return  # CN-MIN-09: a block ends the chats with that character only
        if event["origin"] != self.channel_name and not self.closing:
            self.closing = True
            await self.stop_generation()
            notices = event.get("notices") or {}
            if notices:
                await self.send_json(notices.get(self.language) or notices[settings.LANGUAGE_CODE])
            await self.send_json(protocol.closed(event["reason"]))
            await self.close(code=event.get("code", 1000))

    async def chat_sanction(self, event):
        """CN-CRI-09: a sanction imposed or lifted. Suspension and termination close the socket after
        the notice; a restriction stops the reply being generated."""
        if self.closing:
            return
        self.restricted = event["restricted"]
        notice = event["notices"].get(self.language)
        if self.restricted:
            await self.stop_generation()
        if event["close"]:
            self.closing = True
            await self.send_json(notice)
            await self.send_json(protocol.closed("suspended"))
            return await self.close(code=4403)
        await self.send_json(notice)

    async def chat_service_ended(self, event):
        """CN-SVC-01: a suspension or discontinuation took effect: stop, the notice, `closed`."""
        if self.closing:
            return
        self.closing = True
        await self.stop_generation()
        await self.send_json(event["notices"].get(self.language) or event["notices"][settings.LANGUAGE_CODE])
        await self.send_json(protocol.closed("service_ended"))
        await self.close(code=4410)

    async def disconnect(self, code):
        self.closing = True
        await self.stop_generation()
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if hasattr(self, "user_group"):
            await self.channel_layer.group_discard(self.user_group, self.channel_name)
