from django.urls import path

from companion.console import ConsoleConsumer
from companion.consumers import ChatConsumer

websocket_urlpatterns = [
    path("ws/chat/<slug:character_slug>/", ChatConsumer.as_asgi()),
    path("ws/console/", ConsoleConsumer.as_asgi()),
]
