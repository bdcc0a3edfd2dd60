#!/usr/bin/env python3
"""Time to first streamed token over real WebSockets: our stack versus a minimal Channels baseline.

    .venv/bin/python bench/ws_latency.py                       # 100 users, SQLite + in-memory layer
    .venv/bin/python bench/ws_latency.py --users 200 --rounds 2
    .venv/bin/python bench/ws_latency.py --database-url postgres://postgres@127.0.0.1:5432/postgres \\
        --redis-url redis://127.0.0.1:6379/0

What it does (docs/performance.md has the background and the recorded results):

0. Copies the working tree to a temporary directory (--no-snapshot: not), so every phase and
   round runs the same code and migrations even if the checkout changes during the run.
1. Makes a throwaway database: a SQLite file in a temporary directory (default), or, when
   --database-url (or DATABASE_URL) is a PostgreSQL URL, a new database on that server that is
   dropped afterwards. Runs `manage.py migrate` and `manage.py seed_demo --load-users N`, then
   creates a signed-in session for each of load0 … load{N-1} directly in the session store
   (no password hashing) and the table the baseline writes to.
2. For each phase (baseline, then ours; --rounds repeats the pair) starts a fresh `daphne`
   subprocess on a free port with the same settings, database, FIELD_ENCRYPTION_KEYS, channel
   layer and LLM_PROVIDER=offline:
     baseline  bench.baseline_asgi:application  (session auth, one INSERT, five-part reply)
     ours      companion.asgi:application       (the real app)
3. In this process (asyncio + websockets) opens one socket per user to /ws/chat/<slug>/ with the
   session cookie and Origin, waits for `ready`, then each user sends a message about every
   2 s (staggered start, seeded jitter, the same schedule and texts in every phase) and waits
   for the reply's `message_end` before the next send. Latency = send → first `message_delta`
   of the reply. A message fails on an `error`/`closed` frame, no `message_end` within
   --timeout, or a dropped connection (the user then reconnects).
4. Prints a table per phase, the pooled result per stack, the ratios ours/baseline and
   PASS/FAIL against the targets (p50 ≤ 1.5×, p99 ≤ 2× the baseline, zero failed messages).

--profile-dir records each server with py-spy (`.venv/bin/pip install py-spy`, not a project
requirement); --settings / --ours-app try a settings or code change without editing the app.
Needs Python ≥ 3.11 and the `websockets` package (both in the project's venv).
Timings are never asserted by the test suite; this is a measuring tool.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import json
import math
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable
BASELINE_TABLE = "bench_baseline_message"
APPS = {"baseline": "bench.baseline_asgi:application", "ours": "companion.asgi:application"}
TARGET_P50, TARGET_P99 = 1.5, 2.0

# Everyday small talk: no exit keywords, nothing a risk screen should flag.
TEXTS = [
    "Hi, how was your day?",
    "今天天气不错，我们聊聊天吧。",
    "I just finished reading a good book.",
    "你平时喜欢听什么音乐？",
    "What should I cook for dinner tonight?",
    "我最近在学做饭，挺有意思的。",
    "Do you have any tips for learning a new language?",
    "周末我想去公园散步。",
    "Tell me something interesting about the sea.",
    "我今天和朋友一起吃了午饭。",
]


# --- setup helpers (run as subprocesses so this process never imports the app) --------------

def setup_django() -> None:
    """Set up Django in a helper subprocess (the server's environment, never the bench client)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "companion.settings")
    import django

    django.setup()


def ensure_baseline_table() -> None:
    """The table the baseline servers write one row per message to (after setup_django)."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {BASELINE_TABLE} (id bigserial PRIMARY KEY, "
                           "public_id varchar(36) NOT NULL, user_id bigint NOT NULL, client_id varchar(64) NOT NULL, "
                           "text text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())")
        else:
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {BASELINE_TABLE} (id integer PRIMARY KEY AUTOINCREMENT, "
                           "public_id varchar(36) NOT NULL, user_id bigint NOT NULL, client_id varchar(64) NOT NULL, "
                           "text text NOT NULL, created_at datetime NOT NULL DEFAULT CURRENT_TIMESTAMP)")


def create_sessions(names: list[str]) -> list[str]:
    """A signed-in session per user name, written straight into the session store (no password
    hashing); the session keys in the same order (after setup_django)."""
    from importlib import import_module
    from types import SimpleNamespace

    from allauth.account.internal.flows.login import record_authentication
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model

    users = {user.username: user for user in get_user_model().objects.filter(username__in=names)}
    missing = [name for name in names if name not in users]
    if missing:
        sys.exit(f"load users missing after seed_demo: {missing[:5]}…")
    store = import_module(settings.SESSION_ENGINE).SessionStore
    keys = []
    for name in names:
        user = users[name]
        session = store()
        session[SESSION_KEY] = user._meta.pk.value_to_string(user)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        # As after password and code: staff sessions need the second factor (accounts.middleware).
        record_authentication(SimpleNamespace(session=session), user, "mfa", type="totp")
        session.create()
        keys.append(session.session_key)
    return keys


def server_info() -> dict:
    """What the servers will run with, for the report (after setup_django)."""
    from django.conf import settings
    from django.db import connection

    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    return {"cookie_name": settings.SESSION_COOKIE_NAME, "db_vendor": connection.vendor,
            "channel_layer": layer, "chunk_delay_ms": settings.LLM_OFFLINE_CHUNK_DELAY_MS,
            "llm_provider": settings.LLM_PROVIDER, "debug": settings.DEBUG}


def helper_main(count: int) -> None:
    """`--helper N`: runs under the server's environment; creates sessions and the baseline table."""
    setup_django()
    ensure_baseline_table()
    keys = create_sessions([f"load{i}" for i in range(count)])
    print("BENCH-INFO " + json.dumps({"sessions": keys, **server_info()}))


SNAPSHOT_IGNORE = shutil.ignore_patterns(".git", ".venv", "node_modules", "__pycache__", "*.pyc", ".pytest_cache",
                                         "staticfiles", "media", "db.sqlite3*", "results", "artifacts", "tmp*")


def snapshot_app(workdir: Path) -> Path:
    """Copy the working tree, so every phase and round runs the same code and migrations even
    while someone edits the checkout during the run."""
    target = workdir / "app"
    shutil.copytree(ROOT, target, ignore=SNAPSHOT_IGNORE, symlinks=True)
    return target


def app_version(root: Path) -> str:
    def git(*args):
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = [line for line in git("status", "--porcelain").splitlines()
               if not line[3:].startswith(("bench/", "docs/performance.md"))]
    return commit + (f" + {len(changed)} uncommitted changes" if changed else "")


def run_checked(args: list[str], env: dict, label: str, cwd: Path = ROOT) -> str:
    started = time.perf_counter()
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        sys.exit(f"{label} failed (exit {result.returncode})")
    log(f"{label}: {time.perf_counter() - started:.1f} s")
    return result.stdout


def log(text: str) -> None:
    print(f"[bench] {text}", flush=True)


def env_file_value(name: str) -> str | None:
    path = ROOT / ".env"
    if not path.exists():
        return None
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key.strip() == name:
            return value.strip().strip('"').strip("'")
    return None


@dataclass
class Database:
    kind: str  # "sqlite" or "postgresql"
    env: dict
    cleanup: callable = None
    describe: str = ""


def make_database(args, workdir: Path) -> Database:
    url = args.database_url or os.environ.get("DATABASE_URL", "")
    if url.split(":", 1)[0] in ("postgres", "postgresql", "pgsql"):
        import psycopg  # in the venv through requirements.txt

        name = f"bench_ws_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        parts = urlsplit(url)
        admin_url = urlunsplit(parts._replace(scheme="postgresql"))
        try:
            with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
        except psycopg.Error as error:
            sys.exit(f"cannot create a database on {parts.hostname}:{parts.port or 5432}: {error}")
        bench_url = urlunsplit(parts._replace(path="/" + name))

        def drop():
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        host = parts.hostname or "localhost"
        return Database("postgresql", {"DATABASE_URL": bench_url}, drop, f"PostgreSQL {host}:{parts.port or 5432}/{name}")
    path = workdir / "bench.sqlite3"
    return Database("sqlite", {"SQLITE_PATH": str(path)}, None, f"SQLite {path}")


def server_env(args, database: Database) -> dict:
    env = dict(os.environ)
    for name in ("DATABASE_URL", "SQLITE_PATH", "REDIS_URL"):
        env.pop(name, None)
    env.update(database.env)
    env.update({"DJANGO_SETTINGS_MODULE": args.settings, "LLM_PROVIDER": "offline",
                "PYTHONUNBUFFERED": "1", "DJANGO_DEBUG": "true" if args.debug else "false"})
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
        env["CHANNEL_LAYER_PREFIX"] = f"bench{os.getpid()}"
    if args.chunk_delay_ms is not None:
        env["LLM_OFFLINE_CHUNK_DELAY_MS"] = str(args.chunk_delay_ms)
    if not env.get("FIELD_ENCRYPTION_KEYS"):
        # Every process must share one key; never let each server generate its own into .env.
        env["FIELD_ENCRYPTION_KEYS"] = env_file_value("FIELD_ENCRYPTION_KEYS") or \
            base64.urlsafe_b64encode(os.urandom(32)).decode()
    return env


def migrate_and_seed(env: dict, app_dir: Path, load_users: int) -> None:
    run_checked([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], env, "migrate", app_dir)
    run_checked([PYTHON, "manage.py", "seed_demo", "--load-users", str(load_users)], env, "seed_demo", app_dir)


def bench_info(helper_output: str) -> dict:
    """The JSON a helper printed after `BENCH-INFO `."""
    return json.loads(next(line for line in helper_output.splitlines() if line.startswith("BENCH-INFO "))[11:])


def machine_info() -> dict:
    return {"cpus": os.cpu_count(), "memory_gib": round(os.sysconf("SC_PAGE_SIZE") *
                                                        os.sysconf("SC_PHYS_PAGES") / 2 ** 30, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "load_avg_before": os.getloadavg()}


# --- servers ------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, name: str, env: dict, workdir: Path, args, round_no: int, app_dir: Path = ROOT):
        self.name, self.port = name, free_port()
        self.log_path = workdir / f"{name}-{round_no}-{self.port}.log"
        app = args.ours_app if name == "ours" else args.baseline_app
        command = [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), app]
        self.profile_path = None
        if args.profile_dir:
            pyspy = shutil.which("py-spy") or str(ROOT / ".venv" / "bin" / "py-spy")
            suffix = {"flamegraph": "svg", "raw": "txt", "speedscope": "json"}[args.profile_format]
            self.profile_path = Path(args.profile_dir).resolve() / f"{name}-{args.users}-{round_no}.{suffix}"
            command = ([pyspy, "record", "--nonblocking", "--threads", "-r", "250", "-f", args.profile_format,
                       "-o", str(self.profile_path)] + {"active": [], "idle": ["--idle"], "gil": ["--gil"]}[args.profile_mode]
                       + ["--"] + command)
        self.log_file = self.log_path.open("w")
        self.proc = subprocess.Popen(command, cwd=app_dir, env=env, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.pid = self.proc.pid  # the daphne pid; differs when wrapped by py-spy (found below)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.fail(f"exited with {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        else:
            self.fail("did not listen in time")
        if self.profile_path is not None:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
            if children.exists() and children.read_text().split():
                self.pid = int(children.read_text().split()[0])

    def fail(self, why: str):
        self.stop()
        tail = self.log_path.read_text(errors="replace")[-3000:]
        sys.exit(f"{self.name} server {why}; log {self.log_path}:\n{tail}")

    def cpu_seconds(self) -> float | None:
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGINT)  # daphne shuts down cleanly on SIGINT; py-spy then writes
            try:
                self.proc.wait(timeout=30 if self.profile_path else 10)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        self.log_file.close()


# --- client -------------------------------------------------------------------------------

@dataclass
class PhaseResult:
    name: str
    round_no: int
    users: int
    connected: int = 0
    sent: int = 0
    measured: int = 0
    failed: int = 0
    late: int = 0
    failures: Counter = field(default_factory=Counter)
    first_token: list[float] = field(default_factory=list)  # ms, measured window only
    ack: list[float] = field(default_factory=list)
    start: list[float] = field(default_factory=list)
    complete: list[float] = field(default_factory=list)
    series: list[tuple[float, float]] = field(default_factory=list)  # (send time in window s, first token ms)
    window: float = 0.0
    server_cpu: float | None = None
    client_cpu: float | None = None
    other_cpu: float | None = None  # the rest of the machine during the window, % of one CPU

    def fail(self, reason: str) -> None:
        self.failed += 1
        self.failures[reason] += 1


def machine_busy_seconds() -> float | None:
    """CPU seconds all processes of the machine have used (Linux /proc/stat), for the noise column."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile; nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


class User:
    def __init__(self, index: int, url: str, cookie: str, origin: str, args, result: PhaseResult, seed: int):
        self.index, self.url, self.cookie, self.origin = index, url, cookie, origin
        self.args, self.result = args, result
        self.rng = random.Random(seed * 1_000_003 + index)  # same schedule and texts in every phase
        self.ws = None

    async def connect(self) -> bool:
        import websockets

        try:
            self.ws = await websockets.connect(
                self.url, additional_headers={"Cookie": self.cookie}, origin=self.origin, compression=None,
                open_timeout=self.args.timeout, close_timeout=2, ping_interval=None, max_size=2 ** 22)
            async with asyncio.timeout(self.args.timeout):
                while True:
                    frame = json.loads(await self.ws.recv())
                    if frame.get("type") == "ready":
                        return True
                    if frame.get("type") in ("closed", "error"):
                        raise ConnectionError(f"{frame.get('type')}:{frame.get('reason') or frame.get('code')}")
        except Exception as error:  # noqa: BLE001 — any failure to open counts
            self.result.failures[f"connect:{type(error).__name__}:{error}"[:80]] += 1
            await self.close()
            return False

    async def close(self) -> None:
        if self.ws is not None:
            try:
                await self.ws.close()
            except Exception:  # noqa: BLE001
                pass
            self.ws = None

    async def run(self, start: float, measure_from: float, stop_at: float) -> None:
        loop = asyncio.get_running_loop()
        due = start + self.rng.uniform(0, self.args.interval)  # staggered start
        while due < stop_at:
            text = self.rng.choice(TEXTS)
            gap = self.args.interval + self.rng.uniform(0, self.args.jitter)
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.05:
                self.result.late += 1  # the previous reply ran past this message's slot
            measured = loop.time() >= measure_from
            await self.exchange(text, measured, loop.time() - measure_from)
            due += gap

    async def exchange(self, text: str, measured: bool, offset: float) -> None:
        result = self.result
        if self.ws is None and not await self.connect():
            result.sent += 1
            result.fail("no connection")
            return
        client_id = str(uuid.uuid4())
        reply_id = None
        ack = start = first = None
        sent_at = time.perf_counter()
        try:
            await self.ws.send(json.dumps({"type": "message", "text": text, "client_id": client_id}))
            result.sent += 1
            result.measured += measured
            async with asyncio.timeout(self.args.timeout):
                while True:
                    frame = json.loads(await self.ws.recv())
                    now = time.perf_counter()
                    kind = frame.get("type")
                    if kind == "message_ack" and frame.get("client_id") == client_id:
                        ack = now
                    elif kind == "message_start" and ack is not None and reply_id is None:
                        reply_id, start = frame.get("id"), now
                    elif kind == "message_delta" and first is None and reply_id and frame.get("id") == reply_id:
                        first = now
                    elif kind == "message_end" and reply_id and frame.get("id") == reply_id:
                        break
                    elif kind == "error":
                        result.fail(f"error:{frame.get('code')}")
                        await self.close()  # a reply may still be streaming: start clean
                        return
                    elif kind == "closed":
                        result.fail(f"closed:{frame.get('reason')}")
                        await self.close()
                        return
        except (TimeoutError, asyncio.TimeoutError):
            result.fail("timeout")
            await self.close()
            return
        except Exception as error:  # noqa: BLE001 — dropped connection and the like
            result.fail(f"dropped:{type(error).__name__}")
            await self.close()
            return
        if first is None:
            result.fail("no delta")
            return
        if measured:
            result.first_token.append((first - sent_at) * 1000)
            result.series.append((round(offset, 3), round((first - sent_at) * 1000, 2)))
            result.ack.append((ack - sent_at) * 1000)
            result.start.append((start - sent_at) * 1000)
            result.complete.append((now - sent_at) * 1000)


async def drive(name: str, round_no: int, server: Server, info: dict, args) -> PhaseResult:
    result = PhaseResult(name, round_no, args.users)
    base = f"127.0.0.1:{server.port}"
    users = [User(i, f"ws://{base}/ws/chat/{args.slug}/", f"{info['cookie_name']}={key}", f"http://{base}", args,
                  result, args.seed) for i, key in enumerate(info["sessions"])]
    gate = asyncio.Semaphore(25)  # daphne's listen backlog is 50

    async def open_one(user: User) -> bool:
        async with gate:
            return await user.connect()

    started = time.perf_counter()
    opened = await asyncio.gather(*(open_one(user) for user in users))
    result.connected = sum(opened)
    log(f"{name}: {result.connected}/{len(users)} sockets ready in {time.perf_counter() - started:.1f} s")
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.5
    measure_from, stop_at = start + args.warmup, start + args.warmup + args.duration

    done = asyncio.Event()

    async def meter():
        # From the start of the measured window until the last scheduled message is answered (a
        # saturated server answers late, so the window then runs past --duration).
        await asyncio.sleep(max(0.0, measure_from - loop.time()))
        cpu0, client0, busy0, t0 = server.cpu_seconds(), time.process_time(), machine_busy_seconds(), loop.time()
        await done.wait()
        cpu1, client1, busy1, t1 = server.cpu_seconds(), time.process_time(), machine_busy_seconds(), loop.time()
        result.window = t1 - t0
        result.client_cpu = (client1 - client0) / (t1 - t0) * 100
        if cpu0 is not None and cpu1 is not None:
            result.server_cpu = (cpu1 - cpu0) / (t1 - t0) * 100
            if busy0 is not None and busy1 is not None:
                result.other_cpu = max(0.0, (busy1 - busy0) / (t1 - t0) * 100 - result.server_cpu - result.client_cpu)

    meter_task = asyncio.create_task(meter())
    await asyncio.gather(*(user.run(start, measure_from, stop_at) for user in users))
    done.set()
    await meter_task
    await asyncio.gather(*(user.close() for user in users))
    return result


# --- reporting ----------------------------------------------------------------------------

HEADER = (f"{'phase':<14}{'users':>6}{'sent':>7}{'failed':>7}{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}"
          f"{'ack p50':>9}{'start50':>9}{'end p50':>9}{'msg/s':>7}{'srv CPU':>8}{'cli CPU':>8}{'other':>7}{'late':>6}")


def row(label: str, results: list[PhaseResult]) -> str:
    first = [v for r in results for v in r.first_token]
    ack = [v for r in results for v in r.ack]
    start = [v for r in results for v in r.start]
    end = [v for r in results for v in r.complete]
    sent, failed = sum(r.sent for r in results), sum(r.failed for r in results)
    window = sum(r.window for r in results) or math.nan
    rate = sum(r.measured for r in results) / window
    cpus = [r.server_cpu for r in results if r.server_cpu is not None]
    ccpu = [r.client_cpu for r in results if r.client_cpu is not None]
    ocpu = [r.other_cpu for r in results if r.other_cpu is not None]
    srv = f"{sum(cpus) / len(cpus):.0f}%" if cpus else "-"
    cli = f"{sum(ccpu) / len(ccpu):.0f}%" if ccpu else "-"
    other = f"{sum(ocpu) / len(ocpu):.0f}%" if ocpu else "-"
    return (f"{label:<14}{results[0].users:>6}{sent:>7}{failed:>7}{percentile(first, 50):>8.1f}"
            f"{percentile(first, 90):>8.1f}{percentile(first, 99):>8.1f}{max(first, default=math.nan):>8.1f}"
            f"{percentile(ack, 50):>9.1f}{percentile(start, 50):>9.1f}{percentile(end, 50):>9.1f}{rate:>7.1f}"
            f"{srv:>8}{cli:>8}{other:>7}{sum(r.late for r in results):>6}")


def summarise(results: list[PhaseResult]) -> dict:
    stacks = {}
    for name in APPS:
        mine = [r for r in results if r.name == name]
        if not mine:
            continue
        first = [v for r in mine for v in r.first_token]
        failures = Counter()
        for r in mine:
            failures.update(r.failures)
        stacks[name] = {
            "phases": len(mine), "sent": sum(r.sent for r in mine), "failed": sum(r.failed for r in mine),
            "connect_failures": sum(r.users - r.connected for r in mine), "measured": len(first),
            "p50_ms": percentile(first, 50), "p90_ms": percentile(first, 90), "p99_ms": percentile(first, 99),
            "max_ms": max(first, default=math.nan),
            "ack_p50_ms": percentile([v for r in mine for v in r.ack], 50),
            "start_p50_ms": percentile([v for r in mine for v in r.start], 50),
            "start_p99_ms": percentile([v for r in mine for v in r.start], 99),
            "end_p50_ms": percentile([v for r in mine for v in r.complete], 50),
            "failures": dict(failures)}
    return stacks


def verdict(stacks: dict) -> dict | None:
    if "ours" not in stacks or "baseline" not in stacks:
        return None
    ours, base = stacks["ours"], stacks["baseline"]
    p50 = ours["p50_ms"] / base["p50_ms"]
    p99 = ours["p99_ms"] / base["p99_ms"]
    failed = ours["failed"] + ours["connect_failures"]  # the target is about our stack; the baseline's are shown
    checks = {"p50": p50 <= TARGET_P50, "p99": p99 <= TARGET_P99, "failed": failed == 0}
    return {"p50_ratio": p50, "p99_ratio": p99, "failed": failed, "checks": checks, "pass": all(checks.values())}



def finish_report(args, stacks: dict, outcome: dict | None, *, machine: dict, version: str, server: dict,
                  phases: list[dict], private: tuple[str, ...] = ("helper", "sessions")) -> None:
    """The end every bench shares: failures per stack, then (with --json) the whole run as JSON.
    `private` names config and server keys never written (helper scripts, session keys)."""
    for name, stack in stacks.items():
        if stack["failures"]:
            print(f"{name} failures: {stack['failures']}")
    if not args.json:
        return
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "date": dt.datetime.now().isoformat(timespec="seconds"), "machine": machine, "app_version": version,
        "config": {k: v for k, v in vars(args).items() if k not in private},
        "server": {k: v for k, v in server.items() if k not in private},
        "phases": phases, "stacks": stacks, "verdict": outcome}, indent=2, default=str))
    log(f"results written to {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100, help="concurrent users (default 100)")
    parser.add_argument("--duration", type=float, default=30, help="measured seconds per phase (default 30)")
    parser.add_argument("--warmup", type=float, default=5, help="unmeasured seconds before each phase's window")
    parser.add_argument("--slug", default="friend", help="character slug (default friend)")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between a user's messages (default 2)")
    parser.add_argument("--jitter", type=float, default=0.4,
                        help="extra 0…J seconds added to each interval (default 0.4; keeps a user under the "
                             "30 messages/minute limit in long runs)")
    parser.add_argument("--timeout", type=float, default=15, help="seconds to wait for a reply (default 15)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat baseline→ours this many times")
    parser.add_argument("--phases", default="baseline,ours", help="comma list of baseline, ours")
    parser.add_argument("--database-url", default="",
                        help="PostgreSQL server to create a throwaway database on (default: DATABASE_URL when it "
                             "is postgres://…, else a temporary SQLite file)")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""),
                        help="channel layer on Redis (default: REDIS_URL; empty = in-memory layer)")
    parser.add_argument("--chunk-delay-ms", type=int, default=None,
                        help="LLM_OFFLINE_CHUNK_DELAY_MS for both servers (default: settings, 40)")
    parser.add_argument("--settings", default="companion.settings",
                        help="DJANGO_SETTINGS_MODULE for every process (to try a settings change; add its "
                             "directory to PYTHONPATH)")
    parser.add_argument("--ours-app", default=APPS["ours"], help=f"ASGI app of our stack (default {APPS['ours']})")
    parser.add_argument("--baseline-app", default=APPS["baseline"],
                        help=f"ASGI app of the baseline (default {APPS['baseline']})")
    parser.add_argument("--debug", action="store_true", help="run the servers with DJANGO_DEBUG=true")
    parser.add_argument("--seed", type=int, default=1, help="schedule seed (default 1)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--profile-dir", metavar="DIR",
                        help="record each server with py-spy (pip install py-spy) into DIR/<phase>-<users>-<round>.*")
    parser.add_argument("--profile-format", choices=["flamegraph", "raw", "speedscope"], default="flamegraph",
                        help="py-spy output format (raw = collapsed stacks, one line per stack)")
    parser.add_argument("--profile-mode", choices=["active", "idle", "gil"], default="active",
                        help="py-spy sampling: running threads (default), all threads (--idle), or only the "
                             "thread holding the GIL (--gil: where CPU time goes)")
    parser.add_argument("--samples", action="store_true",
                        help="with --json, include every (send time, first-token ms) sample")
    parser.add_argument("--no-snapshot", action="store_true",
                        help="run the servers from the checkout itself instead of a copy taken at the start")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and database")
    parser.add_argument("--strict", action="store_true", help="exit 1 unless the targets are met")
    parser.add_argument("--helper", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.helper is not None:
        helper_main(args.helper)
        return 0
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if not phases or any(p not in APPS for p in phases):
        parser.error(f"--phases takes names from {sorted(APPS)}")

    workdir = Path(tempfile.mkdtemp(prefix="ws-bench-"))
    if args.profile_dir:
        Path(args.profile_dir).mkdir(parents=True, exist_ok=True)
    database = None
    try:
        database = make_database(args, workdir)
        env = server_env(args, database)
        log(f"database: {database.describe}; channel layer: {'Redis ' + args.redis_url if args.redis_url else 'in-memory'}")
        version = app_version(ROOT)
        app_dir = ROOT if args.no_snapshot else snapshot_app(workdir)
        log(f"app: {ROOT} at {version}" + ("" if args.no_snapshot else f", running from a copy in {app_dir}"))
        migrate_and_seed(env, app_dir, args.users)
        out = run_checked([PYTHON, str(app_dir / "bench" / "ws_latency.py"), "--helper", str(args.users)], env,
                          "sessions", app_dir)
        info = bench_info(out)
        machine = machine_info()
        log(f"machine: {machine['cpus']} CPUs, {machine['memory_gib']} GiB, Python {machine['python']}, "
            f"load average {machine['load_avg_before'][0]:.2f}")
        log(f"servers: daphne, {info['db_vendor']}, {info['channel_layer']}, LLM_PROVIDER={info['llm_provider']}, "
            f"chunk delay {info['chunk_delay_ms']} ms, DEBUG={info['debug']}")
        log(f"load: {args.users} users, one message every {args.interval}–{args.interval + args.jitter} s each, "
            f"{args.warmup} s warm-up + {args.duration} s measured per phase, timeout {args.timeout} s")

        results: list[PhaseResult] = []
        for round_no in range(1, args.rounds + 1):
            for name in phases:
                server = Server(name, env, workdir, args, round_no, app_dir)
                try:
                    server.wait_ready()
                    results.append(asyncio.run(drive(name, round_no, server, info, args)))
                finally:
                    server.stop()
                r = results[-1]
                log(f"{name} round {round_no}: {r.sent} sent, {r.failed} failed"
                    + (f" {dict(r.failures)}" if r.failures else ""))
                if server.profile_path:
                    log(f"profile: {server.profile_path}")

        print()
        print(f"Time to first streamed token (ms) — {args.users} users, {info['db_vendor']} + "
              f"{info['channel_layer']}, {os.cpu_count()} CPUs, {dt.datetime.now():%Y-%m-%d %H:%M}, app {version}")
        print(HEADER)
        for r in results:
            print(row(f"{r.name} #{r.round_no}", [r]))
        if args.rounds > 1:
            for name in phases:
                print(row(f"{name} (all)", [r for r in results if r.name == name]))
        stacks = summarise(results)
        outcome = verdict(stacks)
        if outcome:
            mark = {True: "ok", False: "MISSED"}
            print(f"\nours/baseline: p50 {outcome['p50_ratio']:.2f}× (target ≤ {TARGET_P50}×, "
                  f"{mark[outcome['checks']['p50']]}), p99 {outcome['p99_ratio']:.2f}× (target ≤ {TARGET_P99}×, "
                  f"{mark[outcome['checks']['p99']]}), ours failed {outcome['failed']} (target 0, "
                  f"{mark[outcome['checks']['failed']]})")
            ours, base = stacks["ours"], stacks["baseline"]
            print(f"diagnostic, send → message_start (server work before the model's first clause): "
                  f"p50 {ours['start_p50_ms'] / base['start_p50_ms']:.2f}×, "
                  f"p99 {ours['start_p99_ms'] / base['start_p99_ms']:.2f}×")
            print("PASS" if outcome["pass"] else "FAIL")
        finish_report(args, stacks, outcome, machine=machine, version=version, server=info,
                      phases=[{"name": r.name, "round": r.round_no, "users": r.users, "connected": r.connected,
                              "sent": r.sent, "measured": r.measured, "failed": r.failed, "late": r.late,
                              "failures": dict(r.failures), "window_s": r.window, "server_cpu_pct": r.server_cpu,
                              "client_cpu_pct": r.client_cpu,
                              "other_cpu_pct": r.other_cpu, "p50_ms": percentile(r.first_token, 50),
                              "p90_ms": percentile(r.first_token, 90), "p99_ms": percentile(r.first_token, 99),
                              "max_ms": max(r.first_token, default=math.nan),
                              **({"samples": sorted(r.series)} if args.samples else {})} for r in results])
        return 1 if args.strict and outcome and not outcome["pass"] else 0
    finally:
        if args.keep:
            log(f"kept {workdir}" + (f" and {database.describe}" if database else ""))
        else:
            if database and database.cleanup:
                database.cleanup()
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
