"""Running chat services from async code.

Channels' `database_sync_to_async` sends every call of a process through one shared thread, so
one user's queries wait for everybody else's. On PostgreSQL the chat services (self-contained
transactions holding no thread-bound state) run on the event loop's thread pool instead, each
thread keeping its own connection: queries of different users overlap. SQLite admits one writer
at a time and makes the others sleep in its busy handler, so there the shared thread stays
faster (docs/performance.md).
"""
from concurrent.futures import ThreadPoolExecutor

from channels.db import DatabaseSyncToAsync
from django.conf import settings

PARALLEL = settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3"
# Few threads: ORM work holds the GIL, and more threads would starve the event loop that writes
# the frames; two let one thread's query wait on the network while the other runs.
EXECUTOR = ThreadPoolExecutor(max_workers=settings.COMPANION_DB_THREADS, thread_name_prefix="chat-db") if PARALLEL else None


def in_db_thread(func):
    """`func` as a coroutine function on a database thread, with stale connections closed around it."""
    if EXECUTOR is None:
        return DatabaseSyncToAsync(func)
    return DatabaseSyncToAsync(func, thread_sensitive=False, executor=EXECUTOR)
