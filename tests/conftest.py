import asyncio
import os

import pytest
from channels.db import database_sync_to_async
from django.core.management import call_command
from django.db import connections

from companion import llm

pytest_plugins = ["tests.fixtures"]


def pytest_configure(config):
    config.addinivalue_line("markers", "without_second_factor: staff users get no TOTP authenticator and "
                                       "force_login no second-factor record (tests/fixtures.py)")


def pytest_sessionstart(session):
    """Under CI the suite must run on the real services (DEVELOPERS.md): fail loudly, never fall back."""
    if os.environ.get("CI") != "true":
        return
    from django.conf import settings

    problems = []
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        problems.append("CI=true but DATABASE_URL does not point at PostgreSQL")
    if not settings.REDIS_URL:
        problems.append("CI=true but REDIS_URL is not set")
    else:
        import redis

        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3).ping()
        except redis.RedisError as error:
            problems.append(f"Redis at {settings.REDIS_URL} does not answer: {error}")
    if problems:
        pytest.exit("; ".join(problems), returncode=3)


@pytest.fixture(scope="session", autouse=True)
def close_worker_thread_connections(django_db_setup, django_db_blocker):
    """Chat services run on worker threads (companion/asyncdb.py), each with its own connection;
    end those sessions before the test database is dropped, or PostgreSQL refuses to drop it."""
    yield
    with django_db_blocker.unblock():
        asyncio.run(database_sync_to_async(connections.close_all)())
        connection = connections["default"]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = current_database() AND pid <> pg_backend_pid()")


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """Each test runs on its own event loop; a channels-redis layer built on an earlier loop holds
    locks bound to it. A fresh layer per test keeps them apart."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def fresh_llm_provider():
    """Providers are cached per process; tests change LLM settings, so rebuild around each test."""
    llm.provider.cache_clear()
    yield
    llm.provider.cache_clear()


@pytest.fixture
def demo(db):
    call_command("seed_demo", verbosity=0)
