"""The operator console socket `/ws/console/` (docs/protocol.md, "Console"): the live queue of
safety cases, claim, write as a human, hand back, resolve (CN-CRI-05, CN-CRI-08, CN-CRI-10).

Only operators and compliance officers connect; every action is checked again in the service
and recorded as a case event.
"""
import asyncio
import json
import time
from collections import deque

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext

from accounts.selectors import second_factor_due
from accounts.policies import interface_language
from companion import broadcast, crisis, protocol
from companion.asyncdb import in_db_thread
from companion.policies import within_rate
from companion.protocol import FrameError

CONSOLE_ROLES = ("operator", "compliance")
MAX_FRAME_BYTES = 16 * 1024


def may_use_console(user) -> bool:
    return user.is_authenticated and any(user.has_role(role) for role in CONSOLE_ROLES)


def _queue_frame(language: str) -> dict:
    return {"type": "queue", "cases": [crisis.case_summary(case, language) for case in crisis.queue()],
            "operators": crisis.online_operators(), "sla_seconds": crisis.sla_seconds()}


def _case_frame(event: str, case_id: int, language: str) -> dict | None:
    case = crisis.CrisisCase.objects.select_related("user", "conversation__character", "claimed_by") \
        .filter(pk=case_id).first()
    return case and {"type": event, "case": crisis.case_summary(case, language)}


def _detail_frame(operator, case_id: str, language: str, record: bool = True) -> tuple[dict, int]:
    case, messages = crisis.view_case(operator=operator, case_id=case_id, record=record)
    return ({"type": "case_detail", "case": crisis.case_summary(case, language),
             "messages": [protocol.history_item(message, language) for message in messages],
             "contacts": crisis.case_contacts(case), "call_deadline": crisis.call_deadline(case).isoformat()},
            case.conversation_id)


def _presence_frame() -> dict:
    return {"type": "presence", "operators": crisis.online_operators()}


class ConsoleConsumer(AsyncJsonWebsocketConsumer):
    watching: int | None = None  # conversation id of the case on screen

    async def connect(self):
        self.user = self.scope["user"]
        if not self.user.is_authenticated:
            return await self.close(code=4401)
        if not await in_db_thread(may_use_console)(self.user):
            return await self.close(code=4403)
        # Issue #4 item 5: as for the console page, the session must have passed two-factor
        # authentication; 4401 because the client cannot fix it by retrying, only by signing in again.
        if await in_db_thread(second_factor_due)(self.user, self.scope["session"]):
            return await self.close(code=4401)
        self.language = interface_language(self.scope["cookies"].get(settings.LANGUAGE_COOKIE_NAME),
                                           self.user.language, dict(settings.LANGUAGES))
        self.recent_errors = deque(maxlen=settings.COMPANION_ERRORS_BEFORE_CLOSE)
        self.last_heartbeat = time.monotonic()
        await self.channel_layer.group_add(broadcast.CONSOLE_GROUP, self.channel_name)
        await self.accept()
        await in_db_thread(crisis.set_presence)(operator=self.user, delta=1)
        self.present = True
        await self.send_json(await in_db_thread(_queue_frame)(self.language))
        await broadcast.console_presence()

    async def disconnect(self, code):
        if getattr(self, "queue_task", None) is not None:
            self.queue_task.cancel()
        await self.channel_layer.group_discard(broadcast.CONSOLE_GROUP, self.channel_name)
        await self.watch(None)
        if getattr(self, "present", False):
            self.present = False
            await in_db_thread(crisis.set_presence)(operator=self.user, delta=-1)
            await broadcast.console_presence()

    async def receive(self, text_data=None, bytes_data=None):
        with translation.override(self.language):
            try:
                if text_data is None or len(text_data.encode()) > MAX_FRAME_BYTES:
                    raise FrameError("bad_frame", gettext("Send JSON text frames."))
                try:
                    frame = json.loads(text_data)
                except ValueError:
                    raise FrameError("bad_json", gettext("The frame is not valid JSON.")) from None
                if not isinstance(frame, dict):
                    raise FrameError("bad_frame", gettext("A frame is a JSON object with a string `type`."))
                handler = {"open": self.on_open, "claim": self.on_claim, "send": self.on_send,
                           "handback": self.on_handback, "resolve": self.on_resolve,
                           "log_call": self.on_log_call, "heartbeat": self.on_heartbeat}.get(frame.get("type"))
                if handler is None:
                    raise FrameError("unknown_type", gettext("Unknown frame type."))
                if handler != self.on_heartbeat and not isinstance(frame.get("case"), str):
                    raise FrameError("bad_frame", gettext("Say which case."))
                await handler(frame)
            except (FrameError, crisis.CaseActionRefused) as error:
                await self.send_json(protocol.error(error.code, error.detail))
                now = time.monotonic()
                if not within_rate(self.recent_errors, now, limit=self.recent_errors.maxlen):
                    await self.close(code=4429)
                self.recent_errors.append(now)

    async def watch(self, conversation_id: int | None):
        if self.watching is not None:
            await self.channel_layer.group_discard(broadcast.conversation_group(self.watching), self.channel_name)
        self.watching = conversation_id
        if conversation_id is not None:
            await self.channel_layer.group_add(broadcast.conversation_group(conversation_id), self.channel_name)

    async def on_open(self, frame):
        detail, conversation_id = await in_db_thread(_detail_frame)(self.user, frame["case"], self.language)
        self.watching_case = detail["case"]["id"]
        await self.watch(conversation_id)
        await self.send_json(detail)

    async def on_claim(self, frame):
        change = await in_db_thread(crisis.claim_case)(operator=self.user, case_id=frame["case"])
        await self.after_change(change)

    async def on_send(self, frame):
        text, client_id = frame.get("text"), frame.get("client_id")
        if not isinstance(text, str) or not isinstance(client_id, str):
            raise FrameError("bad_frame", gettext("A message needs string `text` and `client_id`."))
        change, created = await in_db_thread(crisis.operator_send)(
            operator=self.user, case_id=frame["case"], text=text, client_id=client_id)
        message = change.messages[0]
        if created:
            await broadcast.send_messages(change.case.conversation_id, [message])
        await self.send_json({"type": "sent", "client_id": client_id, "id": str(message.public_id)})

    async def on_handback(self, frame):
        note = frame.get("note")
        if not isinstance(note, str):
            raise FrameError("bad_frame", gettext("A hand-back needs a string `note`."))
        await self.after_change(await in_db_thread(crisis.hand_back)(operator=self.user, case_id=frame["case"],
                                                                     note=note))

    async def on_resolve(self, frame):
        outcome, follow_up = frame.get("outcome"), frame.get("follow_up", "")
        if not isinstance(outcome, str) or not isinstance(follow_up, str):
            raise FrameError("bad_frame", gettext("A resolution needs a string `outcome` and `follow_up`."))
        await self.after_change(await in_db_thread(crisis.resolve_case)(
            operator=self.user, case_id=frame["case"], outcome=outcome, follow_up=follow_up))

    async def on_log_call(self, frame):
        outcome, note = frame.get("outcome"), frame.get("note", "")
        if not isinstance(outcome, str) or not isinstance(note, str) or not isinstance(frame.get("contact"), (int, str)):
            raise FrameError("bad_frame", gettext("A call log needs `contact`, a string `outcome` and `note`."))
        await in_db_thread(crisis.log_contact_call)(operator=self.user, case_id=frame["case"],
                                                    contact_id=frame["contact"], outcome=outcome, note=note)
        # The detail frame carries the call list (not a new "viewed" event).
        detail, _ = await in_db_thread(_detail_frame)(self.user, frame["case"], self.language, False)
        await self.send_json(detail)

    async def on_heartbeat(self, frame):
        if time.monotonic() - self.last_heartbeat > 10:
            self.last_heartbeat = time.monotonic()
            await in_db_thread(crisis.set_presence)(operator=self.user, delta=0)

    async def after_change(self, change):
        case = change.case
        await broadcast.send_messages(case.conversation_id, list(change.messages))
        if change.mode is not None:
            await broadcast.send_mode(case.user_id, change.mode)
        await broadcast.console_event("case_updated", case.pk)

    # --- group events ---------------------------------------------------------------------

    async def console_case(self, event):
        summary = (event.get("summaries") or {}).get(self.language)
        if summary is not None:
            await self.send_json({"type": event["event"], "case": summary})
        else:
            frame = await in_db_thread(_case_frame)(event["event"], event["case_id"], self.language)
            if frame is not None:
                await self.send_json(frame)
        self.refresh_queue()

    def refresh_queue(self):
        """One queue rebuild in flight per console; events meanwhile fold into one more rebuild."""
        self.queue_stale = True
        if getattr(self, "queue_task", None) is None or self.queue_task.done():
            self.queue_task = asyncio.get_running_loop().create_task(self.send_queue())

    async def send_queue(self):
        while self.queue_stale:
            self.queue_stale = False
            await self.send_json(await in_db_thread(_queue_frame)(self.language))

    async def console_presence(self, event):
        await self.send_json(await in_db_thread(_presence_frame)())

    async def chat_messages(self, event):
        for record in event["records"]:
            await self.send_case_message(record)

    async def chat_relay(self, event):
        if event["frame"].get("type") == "sync":
            for record in event["frame"]["messages"]:
                await self.send_case_message(record)

    async def send_case_message(self, record):
        await self.send_json({"type": "case_message", "case": getattr(self, "watching_case", None),
                              "message": protocol.relabel(record, self.language)})

    async def chat_mode(self, event):
        pass  # chat sockets only

    async def chat_crisis(self, event):
        pass

    async def chat_reminder(self, event):
        pass

    async def chat_closed(self, event):
        pass
