import asyncio
import datetime as dt
from types import SimpleNamespace

import factory
import pytest
from allauth.account.internal.flows.login import record_authentication
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db.models.signals import m2m_changed, post_save
from django.test import Client
from django.utils import timezone

from accounts.consents import REQUIRED_FOR_CHAT, current_version
from accounts.selectors import is_staff_account
from accounts.models import Consent, Role, User
from accounts.policies import AgeBand
from django.contrib.auth.models import Group
from guardians.models import Contact, ContactKind
from companion.asgi import application
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.sms_gateway import FakeSMSGateway


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    birth_date = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=365 * 30))
    language = "en"
    # CN-REG-04: test users have verified a mobile number at sign-up, unless `unverified=True`.
    phone = factory.Sequence(lambda n: f"+86139{n:08d}")
    phone_verified_at = factory.LazyFunction(timezone.now)
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    class Params:
        unverified = factory.Trait(phone="", phone_verified_at=None)

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


    @factory.post_generation
    def contacts(obj, create, extracted, **kwargs):
        """Test users have the contacts chat needs (CN-REG-03, CN-MIN-03): a minor a linked, consenting
        guardian (an account of its own), an elder a confirmed emergency contact, an adult has skipped
        the question. `contacts=False`: none, as a brand-new account."""
        if create and extracted is not False:
            give_contacts(obj)


def give_contacts(user: User) -> None:
    now = timezone.now()
    if user.is_minor:
        account = UserFactory(username=f"{user.username}-guardian")
        account.groups.add(Group.objects.get_or_create(name=Role.GUARDIAN)[0])
        Contact.objects.create(user=user, kind=ContactKind.GUARDIAN, name="Parent", relationship="parent",
                               email=account.email, phone=account.phone, language="en", account=account,
                               verified_at=now, consent_at=now, consent_version="test")
    elif user.age_band == AgeBand.ELDERLY:
        Contact.objects.create(user=user, kind=ContactKind.EMERGENCY, name="Daughter", relationship="daughter",
                               email=f"{user.username}-family@example.net", phone="+8613700137000",
                               language="en", verified_at=now)
    else:
        User.objects.filter(pk=user.pk).update(contact_prompt_skipped_at=now)
        user.contact_prompt_skipped_at = now


def confirm_guardian(contact: Contact, account: User) -> Contact:
    """The guardian's side of the invitation (CN-MIN-03) through the real service, with the link and
    code the invitation carried (derived from the contact, as the message sent does)."""
    from guardians.invitations import code_for, link_token
    from guardians.services import link_guardian

    return link_guardian(contact_id=contact.pk, token=link_token(contact), account=account, code=code_for(contact))


def _enrol_staff(user: User) -> None:
    if is_staff_account(user) and not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, generate_totp_secret())


def _staff_by_group(sender, instance, action, reverse, pk_set, **kwargs):
    if action == "post_add":
        for user in (User.objects.filter(pk__in=pk_set) if reverse else [instance]):
            _enrol_staff(user)


def _staff_by_flag(sender, instance, created, **kwargs):
    if instance.is_staff or instance.is_superuser:
        _enrol_staff(instance)


@pytest.fixture(autouse=True)
def staff_second_factor(request, monkeypatch):
    """Staff pages and the console socket need a session that passed two-factor authentication
    (accounts.middleware). For tests about something else, a user who becomes staff (groups.add,
    is_staff) gets a real TOTP authenticator at once, and `force_login` (so `session_cookie` too)
    stands for a whole sign-in, code included, as allauth records it. The production check is
    untouched. Tests of the second factor itself opt out: @pytest.mark.without_second_factor."""
    if request.node.get_closest_marker("without_second_factor"):
        yield
        return
    m2m_changed.connect(_staff_by_group, sender=User.groups.through, dispatch_uid="test_staff_totp_groups")
    post_save.connect(_staff_by_flag, sender=User, dispatch_uid="test_staff_totp_flags")
    force_login = Client.force_login

    def force_login_with_code(self, user, backend=None):
        force_login(self, user, backend)
        session = self.session
        record_authentication(SimpleNamespace(session=session), user, "mfa", type=Authenticator.Type.TOTP)
        session.save()

    monkeypatch.setattr(Client, "force_login", force_login_with_code)
    try:
        yield
    finally:
        m2m_changed.disconnect(sender=User.groups.through, dispatch_uid="test_staff_totp_groups")
        post_save.disconnect(sender=User, dispatch_uid="test_staff_totp_flags")


@pytest.fixture
def sms_gateway(settings):
    """A local SMS gateway speaking the real HTTP protocol; the HTTP sender posts to it."""
    gateway = FakeSMSGateway().start()
    settings.SMS_BACKEND = "guardians.sms.HTTPGatewaySMSBackend"
    settings.SMS_GATEWAY_URL = gateway.url
    settings.SMS_GATEWAY_TOKEN = gateway.token
    settings.SMS_GATEWAY_TIMEOUT_SECONDS = 5
    yield gateway
    gateway.stop()


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


async def open_console(user: User | None, origin: bytes = b"http://testserver", cookie: str | None = None):
    """The operator console socket (docs/protocol.md, Console), as `user` (force_login) or with the
    `cookie` of a session signed in some other way."""
    headers = [(b"origin", origin), (b"host", b"testserver")]
    if user is not None:
        cookie = await database_sync_to_async(session_cookie)(user)
    if cookie is not None:
        headers.append((b"cookie", cookie.encode()))
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


def staff(role: str, **fields) -> User:
    """A user in the group `role` (operator, compliance, regulator, guardian)."""
    from django.contrib.auth.models import Group
    user = UserFactory(**fields)
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def client_for(user=None, language: str = "en") -> Client:
    """A test client speaking `language`, signed in as `user` (anonymous when None)."""
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    if user is not None:
        client.force_login(user)
    return client
