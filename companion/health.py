"""Readiness checks behind /healthz: database, channel layer, Celery broker."""
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection

from companion.celery import app as celery_app


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def check_channel_layer() -> str:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)("healthz.")
    probe = {"type": "healthz.probe", "nonce": uuid.uuid4().hex}
    async_to_sync(layer.send)(channel, probe)
    received = async_to_sync(layer.receive)(channel)
    if received.get("nonce") != probe["nonce"]:
        raise RuntimeError("channel layer returned a different message")
    return "ok"


def check_celery_broker() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "ok (eager)"
    with celery_app.connection_for_write() as connection_:
        connection_.ensure_connection(max_retries=1, timeout=2)
    return "ok"


CHECKS = {"database": check_database, "channel_layer": check_channel_layer, "celery_broker": check_celery_broker}


def run_checks() -> dict[str, str]:
    results = {}
    for name, check in CHECKS.items():
        try:
            results[name] = check()
        except Exception as error:  # a health endpoint reports every failure instead of raising
            results[name] = f"error: {type(error).__name__}: {error}"
    return results
