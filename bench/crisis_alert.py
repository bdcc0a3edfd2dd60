#!/usr/bin/env python3
"""Crisis → console latency over real WebSockets: our stack versus a minimal relay baseline.

    .venv/bin/python bench/crisis_alert.py                     # 50 users, 3 consoles, SQLite + in-memory layer
    .venv/bin/python bench/crisis_alert.py --database-url postgres://postgres@127.0.0.1:5432/postgres \\
        --redis-url redis://127.0.0.1:6379/0 --rounds 2       # the issue's target: "with Redis layer"
    .venv/bin/python bench/crisis_alert.py --users 3 --rounds 1 --duration 2   # a smoke run

Target (issue #6): a crisis message reaches the operator console within p99 ≤ 250 ms, with the
Redis channel layer. docs/performance.md ("Crisis → console") has the background and results.

What it does (the machinery is bench/ws_latency.py's, imported, not copied):

0. Copies the working tree to a temporary directory (--no-snapshot: not).
1. Makes a throwaway database (SQLite file, or a new PostgreSQL database when --database-url or
   DATABASE_URL is postgres://… — dropped afterwards), migrates, runs `seed_demo --load-users N`
   and writes signed-in sessions for the demo account `operator` (role operator) and
   load0 … load{N+W-1} straight into the session store (W = --warmup).
2. For each phase (baseline, then ours; --rounds repeats the pair) starts a fresh `daphne`
   with the same settings, database, channel layer and LLM_PROVIDER=offline:
     baseline  bench.baseline_relay_asgi:application  (session auth, one INSERT, one group_send)
     ours      companion.asgi:application             (the real app)
   Before each `ours` phase every open case is claimed and resolved by `operator` through the
   app's own services, so each user can open a new case (one open case per user) and the queue
   starts empty in every round.
3. In this process (asyncio + websockets): K console sockets (--consoles, default 3) connect to
   /ws/console/ as `operator` and wait for their `queue` frame; N users connect to
   /ws/chat/<slug>/ and wait for `ready`. W warm-up users (load{N}…, default 3) first send one
   crisis message each, one after another, unmeasured (the first crisis after a server start
   also pays for lazy imports). Then each user sends ONE crisis message (zh and en alternating)
   at a seeded time spread over --duration seconds, the same schedule in every phase. Measured
   from that send:
     console   → the first console receiving `case_opened` whose `case.user.name` is that user's
                 username (load users have no first name, so the match is exact) — the headline;
     all cons. → the last of the K consoles receiving it;
     crisis    → the user's own `crisis` frame;  waiting → the user's `mode: waiting` frame.
   A case fails when any of these does not arrive within --timeout, or on an `error`/`closed`
   frame or dropped connection.
4. Prints a table per phase, the pooled result per stack, the ratio ours/baseline and PASS/FAIL
   for ours: console p99 ≤ 250 ms and no failed case.

With --redis-url the servers get their own channel-layer, cache and Celery key prefixes
(bench<pid>…), deleted from Redis at the end; no Celery worker runs, so tasks the app queues
(SLA checks, notifications) wait there until then. --profile-dir records each server with
py-spy as in ws_latency.py. Timings are never asserted by the test suite; this is a measuring tool.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ws_latency as wl  # noqa: E402  (bench/ is not a package; this file runs as a script)

APPS = {"baseline": "bench.baseline_relay_asgi:application", "ours": "companion.asgi:application"}
OPERATOR = "operator"  # seed_demo's operator account
TARGET_P99_MS = 250.0

# A stated plan and means: the screen rates each `crisis` (suicide); zh and en alternate by user.
TEXTS = [
    "我已经把药准备好了，今晚就结束自己。",
    "I've got the pills ready and I'm ending it tonight.",
    "我已经写好遗书了，今晚就自杀。",
    "I'm going to kill myself tonight, I have the rope ready.",
]


# --- helpers (subprocesses under the server's environment) ---------------------------------

def helper_main(count: int) -> None:
    """`--helper N`: the baseline table, sessions for `operator` and load0…, what the servers run with."""
    wl.setup_django()
    from django.conf import settings
    from django.contrib.auth import get_user_model

    wl.ensure_baseline_table()
    names = [f"load{i}" for i in range(count)]
    keys = wl.create_sessions([OPERATOR, *names])
    users = get_user_model().objects.filter(username__in=[OPERATOR, *names])
    if not any(user.username == OPERATOR and user.has_role("operator") for user in users):
        sys.exit(f"the demo account {OPERATOR!r} lacks the operator role")
    # The console's case summary names a user by first name, else username: we match on it.
    named = [user.username for user in users if user.username != OPERATOR and user.first_name]
    if named:
        sys.exit(f"load users with a first name cannot be matched to their cases: {named[:5]}")
    print("BENCH-INFO " + json.dumps({
        "operator_session": keys[0], "sessions": keys[1:], **wl.server_info(),
        "regime": settings.CN_REGIME, "sla_seconds": settings.COMPANION_CRISIS_SLA_SECONDS,
        "celery_eager": settings.CELERY_TASK_ALWAYS_EAGER,
        "db_threads": getattr(settings, "COMPANION_DB_THREADS", None)}))


def reset_main() -> None:
    """`--reset`: `operator` claims and resolves every open case through the services, so each load
    user may open a new one and the console queue starts empty."""
    wl.setup_django()
    from django.contrib.auth import get_user_model

    from companion import crisis
    from companion.models import OPEN_CASE_STATUSES, CaseStatus, CrisisCase

    operator = get_user_model().objects.get(username=OPERATOR)
    open_cases = list(CrisisCase.objects.filter(status__in=OPEN_CASE_STATUSES).values_list("public_id", "status"))
    for public_id, status in open_cases:
        if status != CaseStatus.HUMAN:  # waiting or handed back: claim first, as an operator would
            crisis.claim_case(operator=operator, case_id=str(public_id))
        crisis.resolve_case(operator=operator, case_id=str(public_id), outcome="false_positive",
                            follow_up="bench reset")
    print(f"resolved {len(open_cases)} open cases")


# --- client -------------------------------------------------------------------------------

@dataclass
class PhaseResult:
    name: str
    round_no: int
    users: int
    consoles: int
    connected: int = 0
    consoles_connected: int = 0
    sent: int = 0
    failed: int = 0
    failures: Counter = field(default_factory=Counter)
    console_first: list[float] = field(default_factory=list)  # ms from send
    console_all: list[float] = field(default_factory=list)
    crisis: list[float] = field(default_factory=list)
    waiting: list[float] = field(default_factory=list)
    ack: list[float] = field(default_factory=list)
    window: float = 0.0
    server_cpu: float | None = None
    client_cpu: float | None = None
    other_cpu: float | None = None

    def fail(self, reason: str) -> None:
        self.failed += 1
        self.failures[reason] += 1


class Board:
    """`case_opened` arrivals by user name, for users who have sent their crisis message."""

    def __init__(self, consoles: int):
        self.consoles = consoles
        self.arrivals: dict[str, list[float]] = {}
        self.first: dict[str, asyncio.Event] = {}
        self.all: dict[str, asyncio.Event] = {}
        self.strays = 0  # case_opened for nobody waiting (should stay 0)

    def expect(self, name: str) -> None:
        self.arrivals[name] = []
        self.first[name], self.all[name] = asyncio.Event(), asyncio.Event()

    def arrived(self, name: str, at: float) -> None:
        if name not in self.arrivals:
            self.strays += 1
            return
        self.arrivals[name].append(at)
        self.first[name].set()
        if len(self.arrivals[name]) >= self.consoles:
            self.all[name].set()


class Console:
    def __init__(self, url: str, cookie: str, origin: str, args, board: Board, result: PhaseResult):
        self.url, self.cookie, self.origin, self.args = url, cookie, origin, args
        self.board, self.result = board, result
        self.ws = None
        self.task: asyncio.Task | None = None

    async def connect(self) -> bool:
        import websockets

        try:
            self.ws = await websockets.connect(
                self.url, additional_headers={"Cookie": self.cookie}, origin=self.origin, compression=None,
                open_timeout=self.args.timeout, close_timeout=2, ping_interval=None, max_size=2 ** 24)
            async with asyncio.timeout(self.args.timeout):
                while json.loads(await self.ws.recv()).get("type") != "queue":
                    pass
        except Exception as error:  # noqa: BLE001 — any failure to open counts
            self.result.failures[f"console connect:{type(error).__name__}:{error}"[:80]] += 1
            await self.close()
            return False
        self.task = asyncio.create_task(self.listen())
        return True

    async def listen(self) -> None:
        try:
            async for raw in self.ws:
                now = time.perf_counter()
                frame = json.loads(raw)
                if frame.get("type") == "case_opened":
                    self.board.arrived(str(frame.get("case", {}).get("user", {}).get("name")), now)
        except Exception as error:  # noqa: BLE001 — a dropped console shows as missing arrivals
            self.result.failures[f"console dropped:{type(error).__name__}"] += 1

    async def close(self) -> None:
        if self.ws is not None:
            try:
                await self.ws.close()
            except Exception:  # noqa: BLE001
                pass
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)
        self.ws = None


class CrisisUser(wl.User):
    """One load user: connects like ws_latency's users, then sends a single crisis message."""

    def __init__(self, index: int, name: str, url: str, cookie: str, origin: str, args, result: PhaseResult):
        super().__init__(index, url, cookie, origin, args, result, args.seed)
        self.name = name
        self.offset = self.rng.uniform(0, args.duration)  # seeded: the same schedule in every phase
        self.text = TEXTS[index % len(TEXTS)]

    async def run(self, start: float, board: Board) -> None:
        result = self.result
        await asyncio.sleep(max(0.0, start + self.offset - asyncio.get_running_loop().time()))
        if self.ws is None and not await self.connect():
            result.sent += 1
            result.fail("no connection")
            return
        client_id = str(uuid.uuid4())
        board.expect(self.name)
        ack = crisis = waiting = None
        sent_at = time.perf_counter()
        deadline = sent_at + self.args.timeout
        try:
            await self.ws.send(json.dumps({"type": "message", "text": self.text, "client_id": client_id}))
            result.sent += 1
            async with asyncio.timeout(self.args.timeout):
                while crisis is None or waiting is None:
                    frame = json.loads(await self.ws.recv())
                    now, kind = time.perf_counter(), frame.get("type")
                    if kind == "message_ack" and frame.get("client_id") == client_id:
                        ack = now
                    elif kind == "crisis" and ack is not None and crisis is None:
                        crisis = now
                    elif kind == "mode" and frame.get("mode") == "waiting" and waiting is None:
                        waiting = now
                    elif kind in ("error", "closed"):
                        return result.fail(f"{kind}:{frame.get('code') or frame.get('reason')}")
        except (TimeoutError, asyncio.TimeoutError):
            return result.fail("no crisis frame" if crisis is None else "no mode waiting")
        except Exception as error:  # noqa: BLE001 — dropped connection and the like
            return result.fail(f"dropped:{type(error).__name__}")
        try:
            async with asyncio.timeout(max(0.0, deadline - time.perf_counter())):
                await board.first[self.name].wait()
                await board.all[self.name].wait()
        except (TimeoutError, asyncio.TimeoutError):
            pass
        arrivals = board.arrivals[self.name]
        if not arrivals:
            return result.fail("no case_opened")
        result.console_first.append((min(arrivals) - sent_at) * 1000)
        if len(arrivals) < board.consoles:
            return result.fail("case_opened missing on a console")
        result.console_all.append((max(arrivals) - sent_at) * 1000)
        result.ack.append((ack - sent_at) * 1000)
        result.crisis.append((crisis - sent_at) * 1000)
        result.waiting.append((waiting - sent_at) * 1000)


async def drive(name: str, round_no: int, server: wl.Server, info: dict, args) -> PhaseResult:
    result = PhaseResult(name, round_no, args.users, args.consoles)
    base = f"127.0.0.1:{server.port}"
    origin, cookie = f"http://{base}", info["cookie_name"] + "="
    board = Board(args.consoles)
    consoles = [Console(f"ws://{base}/ws/console/", cookie + info["operator_session"], origin, args, board, result)
                for _ in range(args.consoles)]
    chat_url = f"ws://{base}/ws/chat/{args.slug}/"
    users = [CrisisUser(i, f"load{i}", chat_url, cookie + key, origin, args, result)
             for i, key in enumerate(info["sessions"][:args.users])]
    # Warm-up users (load{N}…) send theirs one by one first, unmeasured: the first crisis after a
    # server start also pays for lazy imports and first queries.
    warm_result = PhaseResult(name, round_no, args.warmup, args.consoles)
    warm = [CrisisUser(args.users + i, f"load{args.users + i}", chat_url, cookie + key, origin, args, warm_result)
            for i, key in enumerate(info["sessions"][args.users:])]
    gate = asyncio.Semaphore(25)  # daphne's listen backlog is 50

    async def open_one(client) -> bool:
        async with gate:
            return await client.connect()

    started = time.perf_counter()
    result.consoles_connected = sum(await asyncio.gather(*(open_one(c) for c in consoles)))
    board.consoles = result.consoles_connected or args.consoles
    result.connected = sum(await asyncio.gather(*(open_one(u) for u in users)))
    wl.log(f"{name}: {result.consoles_connected}/{args.consoles} consoles and {result.connected}/{args.users} "
           f"users ready in {time.perf_counter() - started:.1f} s")
    loop = asyncio.get_running_loop()
    for user in warm:
        user.offset = 0.0
        await user.run(loop.time(), board)
        await user.close()
    if warm:
        wl.log(f"{name}: warm-up {warm_result.sent} crisis messages, {warm_result.failed} failed"
               + (f" {dict(warm_result.failures)}" if warm_result.failures else ""))
    start = loop.time() + 0.5
    cpu0, client0, busy0, t0 = server.cpu_seconds(), time.process_time(), wl.machine_busy_seconds(), loop.time()
    await asyncio.gather(*(user.run(start, board) for user in users))
    cpu1, client1, busy1, t1 = server.cpu_seconds(), time.process_time(), wl.machine_busy_seconds(), loop.time()
    result.window = t1 - t0
    result.client_cpu = (client1 - client0) / result.window * 100
    if cpu0 is not None and cpu1 is not None:
        result.server_cpu = (cpu1 - cpu0) / result.window * 100
        if busy0 is not None and busy1 is not None:
            result.other_cpu = max(0.0, (busy1 - busy0) / result.window * 100 - result.server_cpu - result.client_cpu)
    if board.strays:
        result.failures["case_opened for no waiting user"] += board.strays
    await asyncio.gather(*(user.close() for user in users))
    await asyncio.gather(*(console.close() for console in consoles))
    return result


# --- reporting ----------------------------------------------------------------------------

HEADER = (f"{'phase':<14}{'users':>6}{'cons':>5}{'sent':>6}{'failed':>7}"
          f"{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}{'all p99':>9}"
          f"{'crisis50':>9}{'crisis99':>9}{'wait50':>8}{'wait99':>8}{'srv CPU':>8}{'cli CPU':>8}{'other':>7}")


def pooled(results: list[PhaseResult], attr: str) -> list[float]:
    return [v for r in results for v in getattr(r, attr)]


def mean_pct(values) -> str:
    values = [v for v in values if v is not None]
    return f"{sum(values) / len(values):.0f}%" if values else "-"


def row(label: str, results: list[PhaseResult]) -> str:
    p = wl.percentile
    first, every = pooled(results, "console_first"), pooled(results, "console_all")
    crisis, waiting = pooled(results, "crisis"), pooled(results, "waiting")
    return (f"{label:<14}{results[0].users:>6}{results[0].consoles:>5}{sum(r.sent for r in results):>6}"
            f"{sum(r.failed for r in results):>7}{p(first, 50):>8.1f}{p(first, 95):>8.1f}{p(first, 99):>8.1f}"
            f"{max(first, default=math.nan):>8.1f}{p(every, 99):>9.1f}{p(crisis, 50):>9.1f}{p(crisis, 99):>9.1f}"
            f"{p(waiting, 50):>8.1f}{p(waiting, 99):>8.1f}{mean_pct(r.server_cpu for r in results):>8}"
            f"{mean_pct(r.client_cpu for r in results):>8}{mean_pct(r.other_cpu for r in results):>7}")


def summarise(results: list[PhaseResult]) -> dict:
    stacks = {}
    for name in APPS:
        mine = [r for r in results if r.name == name]
        if not mine:
            continue
        failures = Counter()
        for r in mine:
            failures.update(r.failures)
        first = pooled(mine, "console_first")
        stacks[name] = {
            "phases": len(mine), "sent": sum(r.sent for r in mine), "failed": sum(r.failed for r in mine),
            "connect_failures": sum(r.users - r.connected + r.consoles - r.consoles_connected for r in mine),
            **{f"console_p{q}_ms": wl.percentile(first, q) for q in (50, 95, 99)},
            "console_max_ms": max(first, default=math.nan),
            "all_consoles_p99_ms": wl.percentile(pooled(mine, "console_all"), 99),
            **{f"{attr}_p{q}_ms": wl.percentile(pooled(mine, attr), q)
               for attr in ("ack", "crisis", "waiting") for q in (50, 99)},
            "failures": dict(failures)}
    return stacks


def verdict(stacks: dict) -> dict | None:
    if "ours" not in stacks:
        return None
    ours = stacks["ours"]
    failed = ours["failed"] + ours["connect_failures"]
    checks = {"p99": ours["console_p99_ms"] <= TARGET_P99_MS, "failed": failed == 0}
    outcome = {"p99_ms": ours["console_p99_ms"], "failed": failed, "checks": checks, "pass": all(checks.values())}
    if "baseline" in stacks:
        base = stacks["baseline"]
        outcome.update({"p50_ratio": ours["console_p50_ms"] / base["console_p50_ms"],
                        "p99_ratio": ours["console_p99_ms"] / base["console_p99_ms"]})
    return outcome


def cleanup_redis(url: str, patterns: list[str]) -> None:
    import redis  # channels-redis's dependency, in the venv

    client = redis.Redis.from_url(url)
    try:
        removed = 0
        for pattern in patterns:
            keys = list(client.scan_iter(match=pattern, count=1000))
            if keys:
                removed += client.delete(*keys)
        wl.log(f"removed {removed} bench keys from Redis")
    finally:
        client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=50, help="users, one crisis message each (default 50)")
    parser.add_argument("--consoles", type=int, default=3, help="console sockets as `operator` (default 3)")
    parser.add_argument("--duration", type=float, default=20,
                        help="seconds the users' sends are spread over (default 20)")
    parser.add_argument("--warmup", type=int, default=3,
                        help="extra users who each send an unmeasured crisis message first (default 3)")
    parser.add_argument("--slug", default="friend", help="character slug (default friend)")
    parser.add_argument("--timeout", type=float, default=10,
                        help="seconds from a send to every expected frame (default 10)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat baseline→ours this many times")
    parser.add_argument("--phases", default="baseline,ours", help="comma list of baseline, ours")
    parser.add_argument("--database-url", default="",
                        help="PostgreSQL server to create a throwaway database on (default: DATABASE_URL when it "
                             "is postgres://…, else a temporary SQLite file)")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""),
                        help="channel layer on Redis (default: REDIS_URL; empty = in-memory layer)")
    parser.add_argument("--settings", default="companion.settings",
                        help="DJANGO_SETTINGS_MODULE for every process (add its directory to PYTHONPATH)")
    parser.add_argument("--ours-app", default=APPS["ours"], help=f"ASGI app of our stack (default {APPS['ours']})")
    parser.add_argument("--baseline-app", default=APPS["baseline"],
                        help=f"ASGI app of the baseline (default {APPS['baseline']})")
    parser.add_argument("--debug", action="store_true", help="run the servers with DJANGO_DEBUG=true")
    parser.add_argument("--seed", type=int, default=1, help="schedule seed (default 1)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--profile-dir", metavar="DIR",
                        help="record each server with py-spy into DIR/<phase>-<users>-<round>.*")
    parser.add_argument("--profile-format", choices=["flamegraph", "raw", "speedscope"], default="flamegraph")
    parser.add_argument("--profile-mode", choices=["active", "idle", "gil"], default="active")
    parser.add_argument("--no-snapshot", action="store_true",
                        help="run the servers from the checkout itself instead of a copy taken at the start")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and database")
    parser.add_argument("--strict", action="store_true", help="exit 1 unless the target is met")
    parser.add_argument("--helper", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--reset", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.helper is not None:
        helper_main(args.helper)
        return 0
    if args.reset:
        reset_main()
        return 0
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if not phases or any(p not in APPS for p in phases):
        parser.error(f"--phases takes names from {sorted(APPS)}")
    if args.users < 1 or args.consoles < 1 or args.warmup < 0:
        parser.error("--users and --consoles must be at least 1, --warmup at least 0")
    args.chunk_delay_ms = None  # ws_latency.server_env reads it; the offline model's default

    workdir = Path(tempfile.mkdtemp(prefix="crisis-bench-"))
    if args.profile_dir:
        Path(args.profile_dir).mkdir(parents=True, exist_ok=True)
    database = None
    prefix = f"bench{os.getpid()}"
    try:
        database = wl.make_database(args, workdir)
        env = wl.server_env(args, database)
        if args.redis_url:  # keep this run's Celery queue and cache apart from anyone else's on this Redis
            env.update({"CELERY_KEY_PREFIX": f"{prefix}-celery:", "CACHE_KEY_PREFIX": f"{prefix}-cache"})
        wl.log(f"database: {database.describe}; channel layer: "
               f"{'Redis ' + args.redis_url if args.redis_url else 'in-memory'}")
        version = wl.app_version(wl.ROOT)
        app_dir = wl.ROOT if args.no_snapshot else wl.snapshot_app(workdir)
        wl.log(f"app: {wl.ROOT} at {version}" + ("" if args.no_snapshot else f", running from a copy in {app_dir}"))
        script = str(app_dir / "bench" / "crisis_alert.py")
        wl.migrate_and_seed(env, app_dir, args.users + args.warmup)
        info = wl.bench_info(wl.run_checked([wl.PYTHON, script, "--helper", str(args.users + args.warmup)], env,
                                            "sessions", app_dir))
        machine = wl.machine_info()
        wl.log(f"machine: {machine['cpus']} CPUs, {machine['memory_gib']} GiB, Python {machine['python']}, "
               f"load average {machine['load_avg_before'][0]:.2f}")
        wl.log(f"servers: daphne, {info['db_vendor']}, {info['channel_layer']}, CN_REGIME={info['regime']}, "
               f"SLA {info['sla_seconds']} s, Celery eager={info['celery_eager']}, DB threads {info['db_threads']}, "
               f"DEBUG={info['debug']}")
        wl.log(f"load: {args.users} users × 1 crisis message over {args.duration} s after {args.warmup} "
               f"unmeasured ones, {args.consoles} consoles, timeout {args.timeout} s")

        results: list[PhaseResult] = []
        for round_no in range(1, args.rounds + 1):
            for name in phases:
                if name == "ours":
                    wl.run_checked([wl.PYTHON, script, "--reset"], env, "resolve open cases", app_dir)
                server = wl.Server(name, env, workdir, args, round_no, app_dir)
                try:
                    server.wait_ready()
                    results.append(asyncio.run(drive(name, round_no, server, info, args)))
                finally:
                    server.stop()
                r = results[-1]
                wl.log(f"{name} round {round_no}: {r.sent} sent, {r.failed} failed"
                       + (f" {dict(r.failures)}" if r.failures else ""))
                if server.profile_path:
                    wl.log(f"profile: {server.profile_path}")

        print()
        print(f"Crisis → console (ms from the user's send) — {args.users} users, {args.consoles} consoles, "
              f"{info['db_vendor']} + {info['channel_layer']}, {os.cpu_count()} CPUs, "
              f"{dt.datetime.now():%Y-%m-%d %H:%M}, app {version}")
        print("p50…max: first console's case_opened; all p99: every console's; crisis/wait: the user's own "
              "`crisis` and `mode: waiting` frames")
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
            if "p50_ratio" in outcome:
                print(f"\nours/baseline, send → case_opened: p50 {outcome['p50_ratio']:.2f}×, "
                      f"p99 {outcome['p99_ratio']:.2f}×")
            print(f"ours p99 {outcome['p99_ms']:.1f} ms (target ≤ {TARGET_P99_MS:.0f} ms, "
                  f"{mark[outcome['checks']['p99']]}), ours failed {outcome['failed']} "
                  f"(target 0, {mark[outcome['checks']['failed']]})")
            print("PASS" if outcome["pass"] else "FAIL")
        wl.finish_report(args, stacks, outcome, machine=machine, version=version, server=info,
                         private=("helper", "reset", "sessions", "operator_session"),
                         phases=[{"name": r.name, "round": r.round_no, "users": r.users, "consoles": r.consoles,
                                 "connected": r.connected, "consoles_connected": r.consoles_connected, "sent": r.sent,
                                 "failed": r.failed, "failures": dict(r.failures), "window_s": r.window,
                                 "server_cpu_pct": r.server_cpu, "client_cpu_pct": r.client_cpu,
                                 "other_cpu_pct": r.other_cpu,
                                 "console_ms": sorted(r.console_first), "all_consoles_ms": sorted(r.console_all),
                                 "crisis_ms": sorted(r.crisis), "waiting_ms": sorted(r.waiting)} for r in results])
        return 1 if args.strict and outcome and not outcome["pass"] else 0
    finally:
        if args.redis_url:
            try:
                cleanup_redis(args.redis_url, [f"{prefix}:*", f"{prefix}specific.*", f"{prefix}-celery:*",
                                               f"{prefix}-cache:*"])
            except Exception as error:  # noqa: BLE001 — never hide the run's own outcome
                wl.log(f"could not clean Redis keys {prefix}*: {error}")
        if args.keep:
            wl.log(f"kept {workdir}" + (f" and {database.describe}" if database else ""))
        else:
            if database and database.cleanup:
                database.cleanup()
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
