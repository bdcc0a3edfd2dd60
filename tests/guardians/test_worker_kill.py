"""Exactly-once email with a real Celery worker on Redis, killed in the middle of a delivery (CN-CRI-07).

The worker, the notifying process and the status reader are subprocesses on the real settings and
a database of their own (a temporary SQLite file, or a throwaway PostgreSQL database when
DATABASE_URL points at one); the SMTP sink and SMS gateway run here. Under CI=true Redis is always
there and the test must run; elsewhere it skips when no Redis answers.
"""
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings

from tests.fakes.sms_gateway import FakeSMSGateway
from tests.fakes.smtp_sink import SMTPSink

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 3  # a send here takes milliseconds
VISIBILITY_SECONDS = 4  # > lease: a restored task finds the dead attempt's lease over


def _redis_url() -> str:
    import redis

    url = settings.REDIS_URL or "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but Redis at {url} does not answer: {error}")
        pytest.skip(f"no Redis at {url}: {error}")
    return url


def _pg_url(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@contextmanager
def _database():
    """Environment entries naming a fresh database for the subprocesses; removed afterwards."""
    configured = os.environ.get("DATABASE_URL", "")
    if urlsplit(configured).scheme in {"postgres", "postgresql"}:
        import psycopg
        from psycopg import sql

        name = f"companion_guardians_{os.getpid()}"
        statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        with psycopg.connect(_pg_url(configured, "postgres"), autocommit=True, connect_timeout=5) as admin:
            admin.execute(statement)
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield {"DATABASE_URL": _pg_url(configured, name)}
        finally:
            with psycopg.connect(_pg_url(configured, "postgres"), autocommit=True, connect_timeout=5) as admin:
                admin.execute(statement)
        return
    with tempfile.TemporaryDirectory(prefix="guardians-worker-") as directory:
        yield {"SQLITE_PATH": str(Path(directory) / "worker.sqlite3")}


@pytest.fixture
def stack():
    redis_url = _redis_url()
    prefix = f"guardians-test-{os.getpid()}-{secrets.token_hex(3)}-"
    sink, gateway = SMTPSink().start(), FakeSMSGateway().start()
    with _database() as database:
        env = {key: value for key, value in os.environ.items()
               if key not in {"DJANGO_ALLOW_ASYNC_UNSAFE", "DATABASE_URL", "SQLITE_PATH", "DJANGO_ENV",
                              "PYTEST_CURRENT_TEST"}}
        env.update(database)
        env.update({
            "DJANGO_SETTINGS_MODULE": "companion.settings",
            "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
            "REDIS_URL": redis_url, "CELERY_KEY_PREFIX": prefix, "CHANNEL_LAYER_PREFIX": prefix,
            "CACHE_KEY_PREFIX": prefix,
            "CELERY_VISIBILITY_TIMEOUT_SECONDS": str(VISIBILITY_SECONDS),
            "GUARDIANS_DELIVERY_LEASE_SECONDS": str(LEASE_SECONDS),
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(sink.port), "EMAIL_TIMEOUT_SECONDS": "60",
            "SMS_BACKEND": "guardians.sms.HTTPGatewaySMSBackend", "SMS_GATEWAY_URL": gateway.url,
            "SMS_GATEWAY_TOKEN": gateway.token, "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "INFO",
        })
        log_dir = Path(tempfile.mkdtemp(prefix="guardians-worker-logs-"))
        run = Runner(env, log_dir)
        run.manage("migrate", "--noinput", "-v0")
        try:
            yield run, sink, gateway
        finally:
            run.stop_workers()
            sink.stop()
            gateway.stop()
            import redis

            client = redis.Redis.from_url(redis_url)
            keys = list(client.scan_iter(match=f"{prefix}*"))
            if keys:
                client.delete(*keys)


class Runner:
    def __init__(self, env: dict, log_dir: Path):
        self.env, self.log_dir, self.workers = env, log_dir, []

    def manage(self, *args: str) -> None:
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                                text=True, timeout=180)
        assert result.returncode == 0, result.stdout + result.stderr

    def scenario(self, step: str):
        result = subprocess.run([sys.executable, "-m", "tests.guardians.worker_scenario", step], cwd=ROOT,
                                env=self.env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])

    def start_worker(self, name: str) -> subprocess.Popen:
        log = (self.log_dir / f"{name}.log").open("w")
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "celery"), "-A", "companion", "worker", "--pool=solo",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{name}@%h", "-l", "INFO"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.workers.append(process)
        return process

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)


def _until(condition, timeout: float, message):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(message() if callable(message) else message)


def test_guardian_email_arrives_exactly_once_when_the_worker_is_killed_mid_send(stack):
    run, sink, gateway = stack
    sink.hold_first = 1  # the first connection hangs at EHLO: a send stuck before hand-off
    first = run.start_worker("first")
    ids = run.scenario("notify")
    assert set(ids) == {"email", "sms", "portal"}
    _until(sink.held.is_set, 60, lambda: "the first worker never reached the mail server:\n" + run.log("first"))

    first.send_signal(signal.SIGKILL)  # the whole worker dies, its task unacknowledged
    first.wait(timeout=10)
    email_row = next(row for row in run.scenario("status") if row["id"] == ids["email"])
    assert (email_row["status"], email_row["attempts"]) == ("sending", 1)
    assert sink.messages == []

    run.start_worker("second")
    _until(lambda: sink.messages, 60, lambda: "no email after the restart:\n" + run.log("second"))
    _until(lambda: {row["status"] for row in run.scenario("status")} == {"sent"}, 30,
           lambda: f"not all sent: {run.scenario('status')}\n{run.log('second')}")
    time.sleep(VISIBILITY_SECONDS + 2)  # any stray redelivery would have sent again by now

    [mail] = sink.messages
    assert mail.rcpt_tos == ("guardian-kill@example.net",)
    assert mail.message_id.startswith(f"<safety-{ids['email']}-")
    assert len(gateway.requests) == 1 and len(gateway.delivered) == 1
    rows = {row["channel"]: row for row in run.scenario("status")}
    assert rows["email"]["attempts"] == 2 and "lost mid-send" in rows["email"]["last_error"]
    assert rows["sms"]["attempts"] == 1 and rows["portal"]["status"] == "sent"
