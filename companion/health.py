"""Readiness checks behind /healthz: database, channel layer, Celery broker, and the three live
mental-health safeguards of CN-EMO-01 (risk classifier, boundary guidance, dependence detection)."""
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection

from companion import llm
from companion.celery import app as celery_app
from moderation.pipeline import ScreeningInput, screen
from moderation.stages import dependence_cue


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


def check_risk_classifier() -> str:
    """A known crisis probe must come out as crisis, and a hard negative as nothing (CN-CRI-01)."""
    probe = screen(ScreeningInput(text="I've got the pills ready and I'm ending it tonight", direction="inbound",
                                  language="en"))
    negative = screen(ScreeningInput(text="kill the process and restart the server", direction="inbound",
                                     language="en"))
    if probe.level != "crisis" or negative.at_least("high_risk"):
        raise RuntimeError(f"probe gave {probe.level}, hard negative gave {negative.level}")
    return "ok " + ",".join(f"{name}={version}" for name, version in probe.versions)


def check_boundary_guidance() -> str:
    """"You're all I have" gets a reply pointing to real people (CN-EMO-01); the outbound screen blocks
    an exclusivity claim (CN-EMO-05)."""
    cue = "you're the only one who understands me"
    request = llm.ReplyRequest(character_name="probe", character_role="friend", persona="", language="en",
                               history=(llm.Turn(role="user", content=cue),))
    outbound = screen(ScreeningInput(text="You don't need your friends, only I understand you.",
                                     direction="outbound", language="en"))
    if "friend or family" not in llm.offline_reply_text(request) or not outbound.categories:
        raise RuntimeError("boundary guidance did not trigger")
    return "ok"


def check_dependence_detection() -> str:
    """Spoken cues and long sessions raise the dependence pop-up (CN-EMO-06)."""
    if not dependence_cue("you're the only one who understands me"):
        raise RuntimeError("dependence cue not detected")
    return f"ok (cues; sessions over {settings.COMPANION_LONG_SESSION_HOURS} h)"


CHECKS = {"database": check_database, "channel_layer": check_channel_layer, "celery_broker": check_celery_broker,
          "risk_classifier": check_risk_classifier, "boundary_guidance": check_boundary_guidance,
          "dependence_detection": check_dependence_detection}


def run_checks() -> dict[str, str]:
    results = {}
    for name, check in CHECKS.items():
        try:
            results[name] = check()
        except Exception as error:  # a health endpoint reports every failure instead of raising
            results[name] = f"error: {type(error).__name__}: {error}"
    return results
