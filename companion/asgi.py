"""ASGI entry point: HTTP through Django, WebSockets through Channels.

Django is set up before any websocket code is imported (consumers import models).
"""
import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "companion.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from companion.routing import websocket_urlpatterns  # noqa: E402
from moderation.pipeline import stages  # noqa: E402

stages()  # build the configured screening stages now (the model's weights, compiled rules), before the freeze

# Everything imported so far lives as long as the process: keep it out of the garbage collector's
# full passes, which otherwise stall every socket of this process for milliseconds at a time
# (docs/performance.md, "Screening"; docs/decisions.md D-27).
gc.freeze()

application = ProtocolTypeRouter({
    "http": django_asgi_app,
    "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
})
