"""Service change notices (CN-SVC-01) and outage statements (CN-SVC-02) through the real pages, the
real chat socket stack, the Celery tasks (eager) and the mail outbox."""
import datetime as dt
import json

import pytest
import time_machine
from channels.db import database_sync_to_async
from django.utils import timezone

from accounts.models import AuditEvent
from companion import notices
from companion.models import (Author, Character, Conversation, Incident, Message, NoticeKind, ServiceNotice,
                              ServiceNoticeDelivery)
from companion.tasks import carry_out_service_notices, deliver_service_notice
from tests.fixtures import UserFactory, client_for, frames_until, join, open_socket, staff

pytestmark = pytest.mark.django_db(transaction=True)  # tasks and mail run on commit

DAY = dt.timedelta(days=1)


def db(func):
    return database_sync_to_async(func)()


def local_input(moment: dt.datetime) -> str:
    """A datetime-local form value in the service's time zone."""
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def notice_form(kind="discontinuation", *, ahead: dt.timedelta, character="friend", **extra) -> dict:
    return {"kind": kind, "character": character, "effective_at": local_input(timezone.now() + ahead),
            "title_en": "Xiaoyu is retiring", "title_zh": "小雨即将下线",
            "body_en": "We are retiring this character.", "body_zh": "我们将下线这个角色。", **extra}


def talk_with(user, slug="friend") -> Conversation:
    return Conversation.objects.create(user=user, character=Character.objects.get(slug=slug))


def schedule(officer, kind=NoticeKind.DISCONTINUATION, *, ahead: dt.timedelta, character_slug="friend",
             **extra) -> ServiceNotice:
    return notices.schedule_notice(
        actor=officer, kind=kind, character_slug=character_slug, effective_at=timezone.now() + ahead,
        title_en="Xiaoyu is retiring", title_zh="小雨即将下线", body_en="We are retiring this character.",
        body_zh="我们将下线这个角色。", **extra)


@pytest.fixture
def officer(demo):
    return staff("compliance", username="officer1", email="officer1@example.com")


@pytest.fixture
def adult(demo):
    return UserFactory(language="en", email="reader@example.com")


# --- policies ------------------------------------------------------------------------------------

def test_advance_periods_and_phases():
    periods = notices.NoticePeriods(ending_days=30, change_days=7, export_days=90)
    now = timezone.now()
    assert notices.earliest_effective_at(kind="discontinuation", now=now, periods=periods) == now + 30 * DAY
    assert notices.earliest_effective_at(kind="suspension", now=now, periods=periods) == now + 30 * DAY
    assert notices.earliest_effective_at(kind="major_change", now=now, periods=periods) == now + 7 * DAY
    ending = ServiceNotice(kind="discontinuation", effective_at=now + DAY)
    assert notices.notice_phase(ending, now, periods) == "pending"
    assert notices.notice_phase(ending, now + 2 * DAY, periods) == "in_effect"
    assert notices.notice_phase(ending, now + 92 * DAY, periods) == "over"
    pause = ServiceNotice(kind="suspension", effective_at=now + DAY, resumes_at=now + 3 * DAY)
    assert notices.notice_phase(pause, now + 2 * DAY, periods) == "in_effect"
    assert notices.notice_phase(pause, now + 4 * DAY, periods) == "over"
    assert notices.notice_phase(ServiceNotice(kind="major_change", effective_at=now), now + DAY, periods) == "over"


# --- scheduling over HTTP --------------------------------------------------------------------------

@pytest.mark.parametrize("kind,ahead", [("discontinuation", 29 * DAY + 23 * dt.timedelta(hours=1)),
                                        ("suspension", 10 * DAY), ("major_change", 6 * DAY)])
def test_notice_inside_the_advance_period_is_refused_and_nothing_saved(officer, adult, mailoutbox, kind, ahead):
    talk_with(adult)
    extra = {"resumes_at": local_input(timezone.now() + 60 * DAY)} if kind == "suspension" else {}
    response = client_for(officer).post("/compliance/notices/", notice_form(kind, ahead=ahead, **extra))
    assert response.status_code == 400
    assert "days ahead" in response.content.decode()
    assert not ServiceNotice.objects.exists()
    assert mailoutbox == []
    assert not AuditEvent.objects.filter(action="notice.scheduled").exists()
    assert not Message.objects.filter(author=Author.SYSTEM).exists()


def test_major_change_a_week_ahead_is_accepted_posted_and_mailed_once(officer, adult, mailoutbox):
    conversation = talk_with(adult)
    chinese = UserFactory(language="zh-hans", email="zh@example.com")
    talk_with(chinese)
    bystander = UserFactory(language="en", email="bystander@example.com")
    talk_with(bystander, "mentor")

    response = client_for(officer).post("/compliance/notices/", notice_form(
        "major_change", ahead=7 * DAY + dt.timedelta(hours=1), title_en="Xiaoyu's persona changes",
        title_zh="小雨的人设将调整"))
    assert response.status_code == 302
    notice = ServiceNotice.objects.get()
    assert notice.kind == "major_change" and notice.character.slug == "friend" and notice.created_by == officer
    assert notice.posted_at is not None and notice.emailed_at is not None
    assert AuditEvent.objects.filter(action="notice.scheduled", subject_id=str(notice.public_id)).exists()

    mails = {mail.to[0]: mail for mail in mailoutbox}
    assert set(mails) == {"reader@example.com", "zh@example.com"}
    assert mails["reader@example.com"].subject == "[Haven] Xiaoyu's persona changes"
    assert "/notices/" in mails["reader@example.com"].body
    assert mails["zh@example.com"].subject == "[Haven] 小雨的人设将调整"
    assert "我们将下线这个角色。" in mails["zh@example.com"].body

    # The system notice with the export reminder sits in the affected conversation only.
    stored = Message.objects.get(conversation=conversation, author=Author.SYSTEM)
    assert "Xiaoyu's persona changes" in stored.text and "/chat/friend/export.html" in stored.text
    assert not Message.objects.filter(conversation__user=bystander, author=Author.SYSTEM).exists()

    # Reruns (a redelivered task, the beat job) send and post nothing new.
    assert deliver_service_notice(notice.pk) == 0
    assert carry_out_service_notices() == {"mailed": 0, "ended": 0}
    assert len(mailoutbox) == 2
    assert ServiceNoticeDelivery.objects.filter(notice=notice, emailed_at__isnull=False).count() == 2
    assert Message.objects.filter(author=Author.SYSTEM).count() == 2


def test_a_failed_send_is_retried_by_a_later_run_without_mailing_anyone_twice(officer, adult, mailoutbox,
                                                                              monkeypatch):
    talk_with(adult)
    other = UserFactory(language="en", email="other@example.com")
    talk_with(other)
    sent = []

    def flaky(message, *args, **kwargs):  # the SMTP edge: the first attempt to reach `other` fails
        if message.to == ["other@example.com"] and not sent:
            sent.append("failed")
            raise ConnectionRefusedError
        mailoutbox.append(message)
        return 1

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages",
                        lambda self, messages: sum(flaky(m) for m in messages))
    notice = schedule(officer, ahead=31 * DAY)
    assert [mail.to for mail in mailoutbox] == [["reader@example.com"]]
    assert ServiceNotice.objects.get(pk=notice.pk).emailed_at is None
    assert carry_out_service_notices()["mailed"] == 0  # the claim is fresh: nobody is mailed twice
    with time_machine.travel(timezone.now() + notices.CLAIM_TIMEOUT + dt.timedelta(minutes=1)):
        assert carry_out_service_notices()["mailed"] == 1
    assert sorted(mail.to[0] for mail in mailoutbox) == ["other@example.com", "reader@example.com"]
    assert ServiceNotice.objects.get(pk=notice.pk).emailed_at is not None


def test_banner_on_every_page_in_english_and_chinese(officer, adult):
    talk_with(adult)
    chinese = UserFactory(language="zh-hans")
    talk_with(chinese)
    stranger = UserFactory(language="en")
    schedule(officer, ahead=30 * DAY + dt.timedelta(hours=2))

    for path in ("/", "/help/complaints/", "/notices/"):
        page = client_for(adult).get(path).content.decode()
        assert 'data-testid="notice-banner"' in page and "Xiaoyu is retiring" in page, path
        assert "will be discontinued on" in page and "for 90 days" in page
    page = client_for(chinese, "zh-hans").get("/").content.decode()
    assert "小雨即将下线" in page and "停止服务" in page
    # A character's notice is for the people who talked with it.
    assert 'data-testid="notice-banner"' not in client_for(stranger).get("/").content.decode()
    assert 'data-testid="notice-banner"' not in client_for().get("/").content.decode()
    # The notices page lists the conversation with its export links.
    page = client_for(adult).get("/notices/").content.decode()
    assert "/chat/friend/export.html" in page and "/chat/friend/export.json" in page


def test_a_whole_service_notice_is_shown_to_everyone(officer, adult):
    schedule(officer, NoticeKind.MAJOR_CHANGE, ahead=8 * DAY, character_slug="")
    for client in (client_for(adult), client_for()):
        assert "Xiaoyu is retiring" in client.get("/").content.decode()


def test_cancelled_notice_disappears_and_cannot_be_cancelled_after_its_date(officer, adult):
    talk_with(adult)
    notice = schedule(officer, ahead=31 * DAY)
    response = client_for(officer).post(f"/compliance/notices/{notice.public_id}/cancel/")
    assert response.status_code == 302
    notice.refresh_from_db()
    assert notice.cancelled_by == officer
    assert "Xiaoyu is retiring" not in client_for(adult).get("/").content.decode()
    assert AuditEvent.objects.filter(action="notice.cancelled").count() == 1

    later = schedule(officer, ahead=31 * DAY)
    with time_machine.travel(timezone.now() + 32 * DAY):
        with pytest.raises(notices.NoticeRefused) as refused:
            notices.cancel_notice(actor=officer, notice_id=str(later.public_id))
    assert refused.value.code == "in_effect"


def test_suspension_needs_a_resume_date_and_a_second_discontinuation_is_refused(officer):
    with pytest.raises(notices.NoticeRefused) as refused:
        schedule(officer, NoticeKind.SUSPENSION, ahead=31 * DAY)
    assert refused.value.field == "resumes_at"
    schedule(officer, ahead=31 * DAY)
    with pytest.raises(notices.NoticeRefused) as refused:
        schedule(officer, ahead=40 * DAY)
    assert refused.value.code == "already_scheduled"
    assert ServiceNotice.objects.count() == 1


# --- permissions ---------------------------------------------------------------------------------

def test_only_compliance_schedules_and_regulators_read(officer, adult):
    operator = staff("operator")
    regulator = staff("regulator")
    notice = schedule(officer, ahead=31 * DAY)
    form = notice_form(ahead=31 * DAY, character="mentor")
    for user in (adult, operator):
        assert client_for(user).get("/compliance/notices/").status_code == 403
        assert client_for(user).post("/compliance/notices/", form).status_code == 403
    assert client_for().get("/compliance/notices/").status_code == 302  # to sign in
    page = client_for(regulator).get("/compliance/notices/")
    assert page.status_code == 200
    content = page.content.decode()
    assert "Xiaoyu is retiring" in content and 'data-testid="schedule-form"' not in content
    assert 'data-testid="cancel-notice"' not in content
    assert client_for(regulator).post("/compliance/notices/", form).status_code == 403
    assert client_for(regulator).post(f"/compliance/notices/{notice.public_id}/cancel/").status_code == 403
    assert client_for(regulator).post("/compliance/notices/incidents/", {}).status_code == 403
    assert ServiceNotice.objects.count() == 1 and ServiceNotice.objects.get().cancelled_at is None
    with pytest.raises(notices.NoticeRefused):
        schedule(operator, ahead=31 * DAY, character_slug="mentor")
    officer_page = client_for(officer).get("/compliance/notices/").content.decode()
    assert 'data-testid="schedule-form"' in officer_page and 'data-testid="cancel-notice"' in officer_page


# --- the end date over real sockets ----------------------------------------------------------------

async def assert_service_ended(communicator, slug="friend"):
    notice = await communicator.receive_json_from(timeout=5)
    assert notice["type"] == "notice" and notice["kind"] == "service_ended"
    assert notice["link"]["url"] == f"/chat/{slug}/archive/"
    assert await communicator.receive_json_from(timeout=5) == {"type": "closed", "reason": "service_ended"}
    assert (await communicator.receive_output(timeout=5))["type"] == "websocket.close"


async def test_on_the_date_open_sockets_close_reconnects_are_refused_and_export_stays_open(officer, adult):
    chat, _, _ = await join(adult, "friend")
    other, _, _ = await join(adult, "mentor")
    notice = await db(lambda: schedule(officer, ahead=30 * DAY + dt.timedelta(minutes=5)))
    # The open chat shows the system notice with the export reminder at once; the other chat does not.
    start, delta, _end = await frames_until(chat, "message_end")
    assert start["author"] == "system" and "Xiaoyu is retiring" in delta["text"]
    assert "/chat/friend/export.html" in delta["text"]
    assert await other.receive_nothing(timeout=0.3)
    reopened, ready, _ = await join(adult, "friend")
    assert ready["history"][-1]["text"] == delta["text"]

    with time_machine.travel(notice.effective_at + dt.timedelta(seconds=30), tick=True):
        # The channel layer forgets group members after a day of wall-clock time; a live chat's
        # heartbeats rejoin. Any frame does: the error answering this one shows it was handled.
        for communicator in (chat, reopened, other):
            await communicator.send_json_to({"type": "probe"})
            assert (await communicator.receive_json_from(timeout=5))["code"] == "unknown_type"
        assert await db(carry_out_service_notices) == {"mailed": 0, "ended": 1}
        for communicator in (chat, reopened):  # every tab of the conversation
            await assert_service_ended(communicator)
        assert await other.receive_nothing(timeout=0.3)  # other characters go on

        again, connected, _ = await open_socket(adult, "friend")
        assert connected
        await assert_service_ended(again)
        assert await db(lambda: Character.objects.get(slug="friend").is_active) is False
        assert await db(lambda: AuditEvent.objects.filter(action="notice.took_effect").count()) == 1
        assert await db(carry_out_service_notices) == {"mailed": 0, "ended": 0}

        home = (await db(lambda: client_for(adult).get("/"))).content.decode()
        assert 'data-slug="friend"' not in home and 'data-slug="mentor"' in home
        assert "was discontinued on" in home
        archive = await db(lambda: client_for(adult).get("/chat/friend/archive/"))
        assert archive.status_code == 200 and "AI" in archive.content.decode()
        redirected = await db(lambda: client_for(adult).get("/chat/friend/"))  # the old address leads there
        assert redirected.status_code == 302 and redirected["Location"] == "/chat/friend/archive/"
        exported = await db(lambda: client_for(adult).get("/chat/friend/archive/export.json"))
        assert exported.status_code == 200 and exported["Content-Disposition"].startswith("attachment")
        assert json.loads(exported.content)["conversation"]["character"]["slug"] == "friend"
        assert (await db(lambda: client_for(adult).get("/chat/friend/archive/export.html"))).status_code == 200
        stranger = await db(lambda: UserFactory(language="en"))
        assert (await db(lambda: client_for(stranger).get("/chat/friend/archive/export.json"))).status_code == 404
        page = (await db(lambda: client_for(adult).get("/notices/"))).content.decode()
        assert "/chat/friend/archive/export.json" in page

    with time_machine.travel(notice.effective_at + 91 * DAY, tick=True):
        assert (await db(lambda: client_for(adult).get("/chat/friend/archive/export.json"))).status_code == 404
        assert (await db(lambda: client_for(adult).get("/chat/friend/"))).status_code == 404
        late, connected, _ = await open_socket(adult, "friend")
        assert connected
        await assert_service_ended(late)
    await other.disconnect()


async def test_whole_service_suspension_ends_and_resumes(officer, adult):
    notice = await db(lambda: schedule(officer, NoticeKind.SUSPENSION, ahead=31 * DAY, character_slug="",
                                       resumes_at=timezone.now() + 33 * DAY))
    with time_machine.travel(notice.effective_at + dt.timedelta(minutes=1), tick=True):
        refused, connected, _ = await open_socket(adult, "mentor")
        assert connected
        first = await refused.receive_json_from(timeout=5)
        assert first["kind"] == "service_ended" and first["action"] == "suspension"
        assert first["link"]["url"] == "/notices/"
        assert await refused.receive_json_from(timeout=5) == {"type": "closed", "reason": "service_ended"}
        # A suspension retires nothing: the characters come back.
        assert await db(lambda: Character.objects.filter(is_active=True).count()) > 0
    with time_machine.travel(notice.resumes_at + dt.timedelta(minutes=1), tick=True):
        chat, ready, _ = await join(adult, "mentor")
        assert ready["type"] == "ready"
        await chat.disconnect()


async def test_chinese_socket_gets_the_chinese_notice(officer):
    reader = await db(lambda: UserFactory(language="zh-hans"))
    notice = await db(lambda: schedule(officer, ahead=31 * DAY))
    with time_machine.travel(notice.effective_at + dt.timedelta(minutes=1), tick=True):
        refused, connected, _ = await open_socket(reader, "friend")
        assert connected
        first = await refused.receive_json_from(timeout=5)
        assert first["text"].startswith("小雨即将下线") and "停止服务" in first["text"]
        assert first["link"]["text"] == "阅读并导出你的对话"


# --- outages (CN-SVC-02) -------------------------------------------------------------------------

def test_outage_statement_shows_a_banner_and_a_status_entry_until_resolved(officer, adult):
    started = timezone.now() - dt.timedelta(minutes=20)
    response = client_for(officer).post("/compliance/notices/incidents/", {
        "started_at": local_input(started), "title_en": "Chat is down", "title_zh": "聊天暂不可用",
        "statement_en": "Replies fail; we are restoring the model service.", "statement_zh": "回复失败，我们正在恢复。"})
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert incident.is_open and incident.opened_by == officer
    home = client_for(adult).get("/").content.decode()
    assert 'data-testid="incident-banner"' in home and "Chat is down" in home
    status = client_for().get("/status/").content.decode()
    assert "Chat is down" in status and 'data-open="true"' in status
    assert "聊天暂不可用" in client_for(language="zh-hans").get("/status/").content.decode()

    sid = str(incident.public_id)
    response = client_for(officer).post(f"/compliance/notices/incidents/{sid}/resolve/", {
        f"{sid}-note_en": "A certificate expired; renewed and monitored.", f"{sid}-note_zh": "证书过期，已更新。"})
    assert response.status_code == 302
    assert 'data-testid="incident-banner"' not in client_for(adult).get("/").content.decode()
    status = client_for().get("/status/").content.decode()
    assert 'data-open="false"' in status and "A certificate expired" in status
    assert [event.action for event in AuditEvent.objects.filter(action__startswith="incident.")] == [
        "incident.opened", "incident.resolved"]


def test_a_late_statement_is_flagged_for_staff(officer):
    notices.open_incident(actor=officer, title_zh="宕机", title_en="Down", statement_zh="正在处理。",
                          statement_en="Working on it.", started_at=timezone.now() - dt.timedelta(minutes=95))
    page = client_for(officer).get("/compliance/notices/").content.decode()
    assert 'data-testid="statement-late"' in page
    with pytest.raises(notices.NoticeRefused):
        notices.open_incident(actor=officer, title_zh="宕机", title_en="Down", statement_zh="正在处理。",
                              statement_en="Working on it.", started_at=timezone.now() + dt.timedelta(hours=1))
