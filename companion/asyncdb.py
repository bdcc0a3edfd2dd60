"""Running chat services from async code.

Channels' `database_sync_to_async` sends every call of a process through one shared thread, so
one user's queries wait for everybody else's. On PostgreSQL the chat services (self-contained
transactions holding no thread-bound state) run on the event loop's thread pool instead, each
thread keeping its own connection: queries of different users overlap. SQLite admits one writer
at a time and makes the others sleep in its busy handler, so there the shared thread stays
faster (docs/performance.md).
"""
from channels.db import DatabaseSyncToAsync
from django.conf import settings

PARALLEL = settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3"


def in_db_thread(func):
    """`func` as a coroutine function on a database thread, with stale connections closed around it."""
    return DatabaseSyncToAsync(func, thread_sensitive=not PARALLEL)
