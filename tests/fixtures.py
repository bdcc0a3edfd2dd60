import asyncio
import datetime as dt

import factory
import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from accounts.consents import REQUIRED_FOR_CHAT, current_version
from accounts.models import Consent, User
from companion.asgi import application
from tests.fakes.openai_server import FakeOpenAIServer


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    birth_date = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=365 * 30))
    language = "en"
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()

    @factory.post_generation
    def consents(obj, create, extracted, **kwargs):
        """Test users have accepted the current terms, privacy policy and sensitive-information
        consent (`consents=False`: none, as a brand-new account before the consent screen)."""
        if create and extracted is not False:
            Consent.objects.bulk_create([
                Consent(user=obj, purpose=purpose, version=current_version(purpose), granted=True, source="signup")
                for purpose in REQUIRED_FOR_CHAT])


@pytest.fixture
def fake_openai(settings):
    """Point the `openai` provider at a local OpenAI-compatible server."""
    server = FakeOpenAIServer().start()
    settings.LLM_PROVIDER = "openai"
    settings.OPENAI_BASE_URL = server.base_url
    settings.OPENAI_API_KEY = "test-key"
    settings.OPENAI_MODEL = "fake-model"
    settings.OPENAI_MAX_RETRIES = 0
    settings.OPENAI_TIMEOUT_SECONDS = 2
    yield server
    server.stop()


def session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


async def open_socket(user: User | None, slug: str = "friend", origin: bytes = b"http://testserver"):
    headers = [(b"origin", origin), (b"host", b"testserver")]
    if user is not None:
        headers.append((b"cookie", (await database_sync_to_async(session_cookie)(user)).encode()))
    communicator = WebsocketCommunicator(application, f"/ws/chat/{slug}/", headers=headers)
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


async def open_console(user: User | None, origin: bytes = b"http://testserver"):
    """The operator console socket (docs/protocol.md, Console)."""
    headers = [(b"origin", origin), (b"host", b"testserver")]
    if user is not None:
        headers.append((b"cookie", (await database_sync_to_async(session_cookie)(user)).encode()))
    communicator = WebsocketCommunicator(application, "/ws/console/", headers=headers)
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


async def frames_until(communicator: WebsocketCommunicator, frame_type: str, timeout: float = 5) -> list[dict]:
    """Every frame up to and including the first of `frame_type`."""
    frames = []
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        frame = await communicator.receive_json_from(timeout=max(remaining, 0.01))
        frames.append(frame)
        if frame["type"] == frame_type:
            return frames


async def join(user: User, slug: str = "friend", *, acknowledge: bool = True):
    """Open a chat socket as `user`; read `ready` and the pop-ups that follow it.

    With `acknowledge`, dismiss those pop-ups (each must be acknowledged: CN-DIS-02) so the next
    frame the test reads answers its own first frame.
    """
    communicator, connected, code = await open_socket(user, slug)
    assert connected, code
    ready = await communicator.receive_json_from()
    reminders = [await communicator.receive_json_from() for _ in ready["pending_reminders"]]
    assert [r["id"] for r in reminders] == ready["pending_reminders"]
    if acknowledge:
        for item in reminders:
            await communicator.send_json_to({"type": "ack", "reminder_id": item["id"]})
    return communicator, ready, reminders
