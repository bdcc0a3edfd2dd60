"""Test settings: the embedded default (or PostgreSQL/Redis from the environment) made fast."""
import os

from .base import *  # noqa: F401,F403
from .base import CACHES, CHANNEL_LAYERS, REDIS_URL

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LLM_OFFLINE_CHUNK_DELAY_MS = 5
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ACCOUNT_RATE_LIMITS = {}
if REDIS_URL:
    # Parallel runs on one Redis must not see each other's groups.
    CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"test{os.getpid()}"
    CACHES["default"]["KEY_PREFIX"] = f"test{os.getpid()}"

# CN-MIN-10: many tests chat as minors at whatever the wall clock says; the rest-hours tests switch
# the curfew on themselves (settings fixture + time_machine).
COMPANION_MINOR_CURFEW = ""
# CN-DAT-10: tests of remote screening and the training extract run without an assessment; the
# gate's own tests turn it on.
COMPANION_IMPACT_ASSESSMENT_GATE = False

# --- Contacts and safety notifications (guardians) ---
# Tasks run in-process even when REDIS_URL is set (CI): nothing would consume a test's queue. The
# worker-kill test starts its own worker with the real settings.
CELERY_TASK_ALWAYS_EAGER = True
SMS_BACKEND = "guardians.sms.ConsoleSMSBackend"
# Tests that need the daily audit anchor file point this at a temporary path.
AUDIT_ANCHOR_FILE = ""
