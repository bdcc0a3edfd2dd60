"""The baseline server for bench/crisis_alert.py: the least it takes for one socket's message to
reach other sockets through the channel layer and the database.

    daphne -b 127.0.0.1 -p 8001 bench.baseline_relay_asgi:application   (run from the project root)

Same process model, settings, database, channel layer, session authentication and origin check
as the real app (companion.asgi), and the same two paths as the crisis alert:

- `/ws/chat/<slug>/`: a signed-in user's socket. For each `message` it stores one row (one
  INSERT into `bench_baseline_message`, the table bench/ws_latency.py's helper creates), answers
  `message_ack`, a fixed `crisis` frame and `mode: waiting`, then `group_send`s a case summary
  (`id` = the row's public id, `user.name` = the username) to the console group;
- `/ws/console/`: operators only (4403 otherwise, checked once on connect); joins the console
  group, sends an empty `queue` frame, and passes every group event on as `case_opened`.

So the floor is one INSERT plus one `group_send` fanned out to every console; no screening, no
case row, no per-console database read. Only the frames the benchmark client reads are sent; it
is not a protocol implementation.
"""
import os
import uuid

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "companion.settings")
get_asgi_application()  # django.setup() before anything touches models

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.db import database_sync_to_async  # noqa: E402
from channels.generic.websocket import AsyncJsonWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.db import connection  # noqa: E402
from django.urls import path  # noqa: E402
from django.utils import timezone  # noqa: E402

TABLE = "bench_baseline_message"
GROUP = "bench.console"
CRISIS_FRAME = {"type": "crisis", "level": "crisis", "text": "baseline", "resources": []}


def store_message(user_id: int, client_id: str, text: str) -> str:
    public_id = str(uuid.uuid4())
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {TABLE} (public_id, user_id, client_id, text, created_at) "
                       "VALUES (%s, %s, %s, %s, %s)", [public_id, user_id, client_id, text, timezone.now()])
    return public_id


class ChatConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        if not self.scope["user"].is_authenticated:
            return await self.close(code=4401)
        await self.accept()
        await self.send_json({"type": "ready", "conversation": str(uuid.uuid4()), "mode": "ai", "minor_mode": False,
                              "disclosure": "baseline", "history": []})

    async def receive_json(self, content, **kwargs):
        if content.get("type") != "message":
            return
        user = self.scope["user"]
        client_id = str(content.get("client_id", ""))
        case_id = await database_sync_to_async(store_message)(user.pk, client_id, str(content.get("text", "")))
        await self.send_json({"type": "message_ack", "client_id": client_id, "id": case_id})
        await self.send_json(CRISIS_FRAME)
        await self.send_json({"type": "mode", "mode": "waiting"})
        await self.channel_layer.group_send(GROUP, {"type": "console.case", "case": {
            "id": case_id, "level": "crisis", "status": "waiting", "user": {"name": user.username}}})


class ConsoleConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope["user"]
        if not user.is_authenticated:
            return await self.close(code=4401)
        if not await database_sync_to_async(user.has_role)("operator"):
            return await self.close(code=4403)
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept()
        await self.send_json({"type": "queue", "cases": [], "operators": [], "sla_seconds": 0})

    async def disconnect(self, code):
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def console_case(self, event):
        await self.send_json({"type": "case_opened", "case": event["case"]})


application = ProtocolTypeRouter({
    "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter([
        path("ws/chat/<slug:character_slug>/", ChatConsumer.as_asgi()),
        path("ws/console/", ConsoleConsumer.as_asgi()),
    ]))),
})
