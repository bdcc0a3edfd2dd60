"""Browser tests against a real server: daphne + Debian Chromium driven by Playwright (sync API).

One server per session, on a database built just for it:

- embedded default: a temporary SQLite file (``SQLITE_PATH``), in-memory channel layer;
- ``DATABASE_URL`` pointing at PostgreSQL (``CI=true`` via the Makefile): a throwaway database
  ``companion_e2e_<pid>`` created next to the configured one and dropped at the end, with
  ``REDIS_URL`` kept so the server runs the Redis channel layer under its own prefix.

The server runs the real settings (``companion.settings``), not the test settings.
"""
import contextlib
import logging
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
DEMO_PASSWORD = "demo-pass-2026"
TIMEOUT_MS = 10_000
SERVER_START_TIMEOUT = 60  # seconds, daphne + first health check on a cold machine


@pytest.fixture(scope="session", autouse=True)
def django_allow_async_unsafe():
    """Playwright's sync API runs an event loop in this thread; let Django code here run beside it.

    Set from the first browser test to the end of the session only (tests/ runs first, see
    pytest.ini `testpaths`), so the unit tests keep Django's async-safety checks; the server
    subprocess never gets it (see `server_env`).
    """
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def pytest_collection_modifyitems(config, items):
    """Every test under e2e/ is a browser test (`-m "not e2e"` skips them all)."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item so fixtures can screenshot failed tests."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


# --- helpers ------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _venv_bin(name: str) -> str:
    for candidate in (Path(sys.executable).parent / name, ROOT / ".venv" / "bin" / name):
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} not found next to {sys.executable} or in {ROOT / '.venv/bin'}")
    return found


def _is_postgres(url: str) -> bool:
    return urlsplit(url).scheme in {"postgres", "postgresql", "pgsql", "postgis"}


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def _pg_admin_connect(url: str):
    import psycopg

    return psycopg.connect(_with_database(url.replace("postgis://", "postgres://", 1), "postgres"),
                           autocommit=True, connect_timeout=5)


def _encryption_keys() -> str:
    from django.conf import settings

    keys = getattr(settings, "FIELD_ENCRYPTION_KEYS", None) or []
    if isinstance(keys, str):
        return keys
    return ",".join(keys)


# --- the server ---------------------------------------------------------------------------

@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def server_database():
    """Environment entries selecting a fresh database for the server; dropped/removed afterwards."""
    configured = os.environ.get("DATABASE_URL", "")
    if configured and _is_postgres(configured):
        from psycopg import sql

        name = f"companion_e2e_{os.getpid()}"
        with _pg_admin_connect(configured) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield {"DATABASE_URL": _with_database(configured, name)}
        finally:
            with _pg_admin_connect(configured) as connection:
                connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but DATABASE_URL does not point at PostgreSQL: {configured!r}")
    directory = tempfile.mkdtemp(prefix="companion-e2e-")
    try:
        yield {"SQLITE_PATH": str(Path(directory) / "e2e.sqlite3")}
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def e2e_sms_gateway():
    """The local SMS gateway (tests/fakes/sms_gateway.py) the server texts sign-up codes to, so a
    browser test reads a code as a person reads their phone (CN-REG-04)."""
    from tests.fakes.sms_gateway import FakeSMSGateway

    gateway = FakeSMSGateway().start()
    yield gateway
    gateway.stop()


@pytest.fixture(scope="session")
def e2e_smtp_sink():
    """A local SMTP server (tests/fakes/smtp_sink.py) the server mails through, so a browser test
    reads an invitation as its recipient reads their inbox (BX-13, CN-MIN-03)."""
    from tests.fakes.smtp_sink import SMTPSink

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command at INFO
    sink = SMTPSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def server_env(server_database, e2e_sms_gateway, e2e_smtp_sink) -> dict:
    env = dict(os.environ)
    # The server must run like production would here: real settings, async-safety on.
    for name in ("DJANGO_ALLOW_ASYNC_UNSAFE", "DATABASE_URL", "SQLITE_PATH", "DJANGO_ENV", "PYTEST_CURRENT_TEST"):
        env.pop(name, None)
    env.update(server_database)
    env.update({
        "DJANGO_SETTINGS_MODULE": "companion.settings",
        "FIELD_ENCRYPTION_KEYS": _encryption_keys(),
        # The demo model streams clause by clause: 250 ms apart keeps a reply on screen long enough
        # to watch it grow and to press exit in the middle of it.
        "LLM_OFFLINE_CHUNK_DELAY_MS": "250",
        "LLM_PROVIDER": "offline",
        # A safety-related report is overdue for triage at once, so the complaints test can watch
        # the queue flag it without waiting an hour (nothing else files one).
        "COMPANION_COMPLAINT_TRIAGE_MINUTES": "0",
        # CN-MIN-10: browser tests chat as minors at any hour; the time-limit server has its own settings.
        "COMPANION_MINOR_CURFEW": "",
        "CHANNEL_LAYER_PREFIX": f"e2e-{os.getpid()}-{secrets.token_hex(3)}-",
        "SMS_BACKEND": "guardians.sms.HTTPGatewaySMSBackend",
        "SMS_GATEWAY_URL": e2e_sms_gateway.url,
        "SMS_GATEWAY_TOKEN": e2e_sms_gateway.token,
        # Real SMTP to the local sink, from daphne and (on Redis) the Celery worker alike: both get
        # this environment (see `server_url`).
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(e2e_smtp_sink.port),
        "EMAIL_USE_TLS": "false",  # the sink speaks plain SMTP, without login
        "EMAIL_USE_SSL": "false",
        "EMAIL_HOST_USER": "",
        "EMAIL_HOST_PASSWORD": "",
        "PYTHONUNBUFFERED": "1",
    })
    # Rate-limit counters live in the cache, tasks in the broker: a prefix of this run's own keeps
    # runs apart.
    env["CACHE_KEY_PREFIX"] = env["CHANNEL_LAYER_PREFIX"]
    env["CELERY_KEY_PREFIX"] = env["CHANNEL_LAYER_PREFIX"]
    if os.environ.get("CI") == "true" and not env.get("REDIS_URL"):
        pytest.fail("CI=true but REDIS_URL is not set: the browser tests must run on the Redis channel layer")
    return env


def _manage(env: dict, log: Path, *args: str) -> None:
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ manage.py {' '.join(args)}\n")
        out.flush()
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, timeout=180)
    if result.returncode != 0:
        pytest.fail(f"manage.py {' '.join(args)} exited {result.returncode}; log {log}:\n{_tail(log)}")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextlib.contextmanager
def _daphne(env: dict, log: Path):
    """Serve the app with daphne on a free port until the block ends; yield its base URL."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    out = log.open("a", encoding="utf-8")
    out.write(f"\n$ daphne -b 127.0.0.1 -p {port} companion.asgi:application\n")
    out.flush()
    process = subprocess.Popen([_venv_bin("daphne"), "-b", "127.0.0.1", "-p", str(port), "companion.asgi:application"],
                               cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        last_error = "no answer yet"
        while True:
            if process.poll() is not None:
                pytest.fail(f"daphne exited with {process.returncode} during start-up; log {log}:\n{_tail(log)}")
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=5) as response:
                    if response.status == 200:
                        break
                    last_error = f"HTTP {response.status}"
            except urllib.error.HTTPError as error:
                last_error = f"HTTP {error.code}: {error.read()[:300]!r}"
            except OSError as error:
                last_error = repr(error)
            if time.monotonic() > deadline:
                pytest.fail(f"{url}/healthz not 200 after {SERVER_START_TIMEOUT}s ({last_error}); "
                            f"log {log}:\n{_tail(log)}")
            time.sleep(0.2)
        yield url
    finally:
        _stop(process)
        out.close()


@contextlib.contextmanager
def _celery_worker(env: dict, log: Path):
    """With REDIS_URL the app runs like a deployment: tasks (contact notifications, the crisis SLA
    check) go to a real worker, started here for the session."""
    if not env.get("REDIS_URL"):
        yield None  # embedded default: eager Celery, nothing to start
        return
    out = log.open("a", encoding="utf-8")
    out.write("\n$ celery -A companion worker --pool=solo\n")
    out.flush()
    process = subprocess.Popen([_venv_bin("celery"), "-A", "companion", "worker", "--pool=solo", "--loglevel=INFO",
                                "--without-gossip", "--without-mingle", "--without-heartbeat"],
                               cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while "ready." not in log.read_text(encoding="utf-8", errors="replace"):
            if process.poll() is not None:
                pytest.fail(f"the Celery worker exited with {process.returncode}; log {log}:\n{_tail(log)}")
            if time.monotonic() > deadline:
                pytest.fail(f"the Celery worker did not start in {SERVER_START_TIMEOUT}s; log {log}:\n{_tail(log)}")
            time.sleep(0.2)
        yield process
    finally:
        _stop(process)
        out.close()


@pytest.fixture(scope="session")
def server_url(server_env, artifacts_dir):
    """Migrate and seed a fresh database, serve it with daphne (and, on Redis, a Celery worker),
    yield http://127.0.0.1:<port>."""
    log = artifacts_dir / "server.log"
    log.write_text("", encoding="utf-8")
    _manage(server_env, log, "migrate", "--noinput", "-v0")
    _manage(server_env, log, "seed_demo")
    worker_log = artifacts_dir / "celery-worker.log"
    worker_log.write_text("", encoding="utf-8")
    with _celery_worker(server_env, worker_log), _daphne(server_env, log) as url:
        yield url


@pytest.fixture(scope="session")
def fast_reminder_server_url(server_url, server_env, artifacts_dir):
    """A second server on the same database whose periodic reminders come every 6 seconds.

    Compliance staff may shorten reminder intervals (COMPANION_REMINDER_INTERVAL_CAP_MINUTES), so
    a browser test can watch one arrive without waiting two hours.
    """
    with _daphne({**server_env, "COMPANION_REMINDER_INTERVAL_CAP_MINUTES": "0.1"},
                 artifacts_dir / "server-fast-reminders.log") as url:
        yield url


@pytest.fixture(scope="session")
def time_limit_server_url(server_url, server_env, artifacts_dir):
    """A server on the same database where minors may chat 15 seconds a day (CN-MIN-10), with a
    heartbeat every 2 seconds, so a browser test can watch the limit close the chat."""
    with _daphne({**server_env, "COMPANION_MINOR_DAILY_MINUTES": "0.25,0.25,0.25", "COMPANION_HEARTBEAT_SECONDS": "2"},
                 artifacts_dir / "server-time-limit.log") as url:
        yield url


@pytest.fixture
def reset_daily_usage(server_env, artifacts_dir):
    """Forget a seeded account's chat time and time-limit pop-ups before and after a test, so the
    account used up on the time-limit server is not locked for the next test."""
    def reset(username: str) -> None:
        _manage(server_env, artifacts_dir / "server.log", "shell", "-c",
                "from companion.models import DailyUsage, Reminder; "
                f"DailyUsage.objects.filter(user__username={username!r}).delete(); "
                f"Reminder.objects.filter(user__username={username!r}, kind__in=['time_limit', 'curfew']).delete()")
    usernames = []

    def use(username: str) -> None:
        usernames.append(username)
        reset(username)

    yield use
    for username in usernames:
        reset(username)


@pytest.fixture
def fresh_streak(server_env, artifacts_dir):
    """Factory: end a seeded account's continuous-use streak (its UsageClock) before a test, so a chat
    another test just had with it does not count towards the reminders this test watches."""
    def reset(username: str) -> None:
        _manage(server_env, artifacts_dir / "server.log", "shell", "-c",
                "from companion.models import UsageClock; "
                f"UsageClock.objects.filter(user__username={username!r}).delete()")
    return reset


@pytest.fixture
def cases_closed(browser, server_url):
    """Factory: `remember(username, base_url=None)`. The demo accounts are shared by the browser tests:
    should a test stop half-way, resolve that user's open case so the next test finds the account
    chatting with the AI again. Request it before `new_context`."""
    from browser_helpers import console_case_row, login, open_console
    from playwright.sync_api import expect

    remembered: dict[str, str] = {}
    yield lambda username, base_url=None: remembered.__setitem__(username, base_url or server_url)
    for username, base_url in remembered.items():
        context = browser.new_context(base_url=base_url, locale="en-US")
        try:
            page = context.new_page()
            login(page, "operator")
            open_console(page)
            row = console_case_row(page, username)
            if row.count() == 0:
                continue
            row.locator("button").click()
            if page.get_by_test_id("claim").is_enabled():
                page.get_by_test_id("claim").click()
            expect(page.get_by_test_id("resolve")).to_be_enabled()
            page.get_by_test_id("resolve").click()
            page.get_by_test_id("resolve-confirm").click()
            expect(row).to_have_count(0)
        finally:
            context.close()


# --- the browser --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def new_context(request, browser, server_url, artifacts_dir):
    """Factory: a fresh browser context (own cookies, own locale) per call, closed after the test."""
    contexts = []

    def make(locale: str = "en-US", base_url: str | None = None):
        context = browser.new_context(base_url=base_url or server_url, locale=locale,
                                      viewport={"width": 1100, "height": 800})
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    failed = any(getattr(request.node, f"rep_{when}", None) is not None
                 and getattr(request.node, f"rep_{when}").failed for when in ("setup", "call"))
    for index, context in enumerate(contexts):
        if failed:
            for number, page in enumerate(context.pages):
                name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
                try:
                    page.screenshot(path=str(artifacts_dir / f"{name}-{index}-{number}.png"), full_page=True)
                except Exception as error:  # a screenshot must never hide the real failure
                    print(f"screenshot failed: {error}")
        context.close()


@pytest.fixture
def page(new_context):
    """A page in a fresh en-US context."""
    return new_context("en-US").new_page()


@pytest.fixture
def saved_language_restored(browser, server_url):
    """Factory: `remember(username, code)` puts that demo user's saved interface language back to
    `code` after the test, for tests that switch a shared account's language with the header selector.

    Request it before `new_context`, so it runs after the failure screenshot, in a context of its own.
    """
    remembered: dict[str, str] = {}
    yield remembered.__setitem__
    from browser_helpers import choose_language, login

    for username, code in remembered.items():
        context = browser.new_context(base_url=server_url, locale="zh-CN" if code == "zh-hans" else "en-US")
        try:
            page = context.new_page()
            login(page, username)
            if page.locator("html").get_attribute("lang") != code:
                choose_language(page, code)
        finally:
            context.close()


@pytest.fixture(scope="session")
def fast_sla_server_url(server_url, server_env, artifacts_dir):
    """A second server on the same database whose safety cases must be accepted within 3 seconds
    (COMPANION_CRISIS_SLA_SECONDS), so a browser test can watch a missed SLA escalate (CN-CRI-08).

    The embedded server checks the SLA on its own event loop; with REDIS_URL the check is a Celery
    task run by the session's worker (see `server_url`).
    """
    with _daphne({**server_env, "COMPANION_CRISIS_SLA_SECONDS": "3"}, artifacts_dir / "server-fast-sla.log") as url:
        yield url
