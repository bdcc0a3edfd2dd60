"""The baseline server for bench/ws_latency.py: the least a Channels chat socket can do.

    daphne -b 127.0.0.1 -p 8001 bench.baseline_asgi:application   (run from the project root)

Same process model, settings, database, session authentication and origin check as the real
app (companion.asgi), but one consumer that does the bare minimum per message: store it in the
same database (one INSERT into `bench_baseline_message`, a table ws_latency.py creates), then
answer message_ack, message_start, five message_delta frames and message_end. The parts are
spaced by LLM_OFFLINE_CHUNK_DELAY_MS like the offline model's chunks, with no pause before the
first one, so "time to first token" means the same thing in both servers.

Only the frames the benchmark client reads are sent; it is not a protocol implementation.
"""
import asyncio
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
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.urls import path  # noqa: E402
from django.utils import timezone  # noqa: E402

TABLE = "bench_baseline_message"
REPLY_PARTS = ("Thanks ", "for ", "your ", "message, ", "friend.")
CHUNK_DELAY = settings.LLM_OFFLINE_CHUNK_DELAY_MS / 1000


def store_message(user_id: int, client_id: str, text: str) -> str:
    public_id = str(uuid.uuid4())
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {TABLE} (public_id, user_id, client_id, text, created_at) "
                       "VALUES (%s, %s, %s, %s, %s)", [public_id, user_id, client_id, text, timezone.now()])
    return public_id


class BaselineConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope["user"]
        if not user.is_authenticated:
            return await self.close(code=4401)
        await self.accept()
        await self.send_json({"type": "ready", "conversation": str(uuid.uuid4()), "mode": "ai", "minor_mode": False,
                              "disclosure": "baseline", "history": []})

    async def receive_json(self, content, **kwargs):
        if content.get("type") != "message":
            return
        client_id = str(content.get("client_id", ""))
        message_id = await database_sync_to_async(store_message)(
            self.scope["user"].pk, client_id, str(content.get("text", "")))
        await self.send_json({"type": "message_ack", "client_id": client_id, "id": message_id})
        reply_id = str(uuid.uuid4())
        await self.send_json({"type": "message_start", "id": reply_id, "author": "ai", "label": "AI-generated"})
        for index, part in enumerate(REPLY_PARTS):
            if index and CHUNK_DELAY:
                await asyncio.sleep(CHUNK_DELAY)
            await self.send_json({"type": "message_delta", "id": reply_id, "text": part})
        await self.send_json({"type": "message_end", "id": reply_id, "aigc": {"Label": "1"}, "status": "complete"})


application = ProtocolTypeRouter({
    "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter([
        path("ws/chat/<slug:character_slug>/", BaselineConsumer.as_asgi()),
    ]))),
})
