"""Embedded default settings, driven by the environment (names per shared/contracts.md §2).

Unset, nothing here needs a running service: SQLite, the in-memory channel layer, eager
Celery and the offline LLM provider. DATABASE_URL and REDIS_URL switch to PostgreSQL,
channels-redis, a Redis cache and Celery workers on Redis.
"""
import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parent.parent.parent
ENV_FILE = BASE_DIR / ".env"


def _load_env_file(path: Path) -> None:
    """Read KEY=VALUE lines into os.environ without overriding what the process already has."""
    if not path.exists():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        os.environ.setdefault(key.strip(), value.strip().strip('"').strip("'"))


def _ensure_dev_encryption_key(path: Path) -> None:
    """Contracts §2: a development FIELD_ENCRYPTION_KEYS is generated into .env when absent."""
    if os.environ.get("FIELD_ENCRYPTION_KEYS") or os.environ.get("DJANGO_ENV") == "production":
        return
    key = Fernet.generate_key().decode()
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"FIELD_ENCRYPTION_KEYS={key}\n")
    os.environ["FIELD_ENCRYPTION_KEYS"] = key


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


_load_env_file(ENV_FILE)
_ensure_dev_encryption_key(ENV_FILE)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "dev-insecure-4mZ8yq1Kc7pQ2vT9wX3rN6bH0sJ5dL")
DEBUG = env_bool("DJANGO_DEBUG", True)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    # Ours, in dependency order (STYLE.md §1): companion → guardians → moderation → accounts.
    "accounts",
    "moderation",
    "guardians",
    "companion",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.UserLanguageMiddleware",
    "accounts.middleware.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # After auth and messages: staff pages need a session that passed two-factor authentication.
    "accounts.middleware.StaffSecondFactorMiddleware",
    "companion.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "companion.urls"
ASGI_APPLICATION = "companion.asgi.application"
WSGI_APPLICATION = "companion.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "companion.context_processors.service",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            # WAL lets the chat server read while another connection writes.
            "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                        "transaction_mode": "IMMEDIATE", "timeout": 20},
            # Keep the connection: the chat server's database thread would otherwise reconnect (and
            # rerun the PRAGMAs) on every call.
            "CONN_MAX_AGE": None,
        }
    }
# Services own their transactions (STYLE.md §7).
for _db in DATABASES.values():
    _db["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, cache, Celery ----------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 times reads out after 5 s, exactly channels-redis's blocking-pop timeout, so an
            # idle socket's receive could fail with TimeoutError; give reads room beyond that.
            # redis-py 8 also caps a pool at 100 connections: past that, sockets were dropped at 200
            # users. A full channel (capacity 100) silently drops group messages such as `closed`.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30, "max_connections": 1000}],
                       "capacity": 1000,
                       "prefix": os.environ.get("CHANNEL_LAYER_PREFIX", "asgi")},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "haven")}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "Asia/Shanghai"

# --- Auth (django-allauth) -------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_SIGNUP_FORM_CLASS = "accounts.forms.ProfileSignupForm"
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
MFA_ADAPTER = "accounts.adapter.MFAAdapter"  # TOTP secrets encrypted at rest
ACCOUNT_USERNAME_VALIDATORS = "accounts.validators.username_validators"
ACCOUNT_EMAIL_VERIFICATION = os.environ.get("ACCOUNT_EMAIL_VERIFICATION", "optional")
ACCOUNT_UNIQUE_EMAIL = True
# allauth's own limits: failed logins per IP and per account, sign-ups per IP.
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key", "signup": "20/h/ip"}
ACCOUNT_SESSION_REMEMBER = None
# Two-factor authentication (allauth.mfa; issue #4 item 5): staff accounts (accounts.middleware) must
# sign in with a TOTP code, or a recovery code, before any staff page or the console socket. Codes
# are RFC 6238 (SHA-1, 30 s, 6 digits) so any authenticator app works. MFA_TOTP_TOLERANCE stays 0:
# allauth refuses a used code for one period only, so accepting the neighbouring steps too would let
# a code seen over someone's shoulder be replayed (RFC 6238 §5.2: never accept an OTP twice).
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = os.environ.get("COMPANION_SERVICE_NAME", "Haven")
# Staff areas behind the second factor, by path prefix (the console socket checks on its own).
ACCOUNTS_STAFF_PATHS = ("/console/", "/compliance/", "/regulator/", "/admin/")
# The shared TOTP secret (base32) that `seed_demo` gives every demo staff account; print its current
# code with `manage.py demo_totp_code`. Demo data only: real staff enrol their own authenticator app.
ACCOUNTS_DEMO_TOTP_SECRET = os.environ.get("DEMO_TOTP_SECRET", "HAVENDEMOSTAFFTOTPSECRETKEY23456")

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Haven <no-reply@example.com>")

# --- i18n ------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True

# --- Static ----------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- Security --------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- Field encryption (chat content at rest) -------------------------------------------
# Comma list, newest first; MultiFernet encrypts with the first and decrypts with any.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS")

# --- LLM -------------------------------------------------------------------------------
LLM_PROVIDER = os.environ.get("LLM_PROVIDER", "offline")
OPENAI_BASE_URL = os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1")
OPENAI_API_KEY = os.environ.get("OPENAI_API_KEY", "")
OPENAI_MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
OPENAI_TIMEOUT_SECONDS = float(os.environ.get("OPENAI_TIMEOUT_SECONDS", "30"))
OPENAI_CONNECT_TIMEOUT_SECONDS = float(os.environ.get("OPENAI_CONNECT_TIMEOUT_SECONDS", "5"))
OPENAI_MAX_RETRIES = int(os.environ.get("OPENAI_MAX_RETRIES", "2"))
OPENAI_MAX_TOKENS = int(os.environ.get("OPENAI_MAX_TOKENS", "512"))
# Pause between streamed chunks of the offline demo model, so streaming, cancel and
# exit behave as they do with a real model.
LLM_OFFLINE_CHUNK_DELAY_MS = int(os.environ.get("LLM_OFFLINE_CHUNK_DELAY_MS", "40"))

# --- Compliance settings ---------------------------------------------------------------
# Crisis protocol (CN-CRI-05, CN-CRI-08): seconds before an unclaimed case runs the fallback,
# who is paged then, and how long a console socket counts as present without a heartbeat.
COMPANION_CRISIS_SLA_SECONDS = int(os.environ.get("COMPANION_CRISIS_SLA_SECONDS", "60"))
COMPANION_CRISIS_ONCALL_EMAILS = env_list("COMPANION_CRISIS_ONCALL_EMAILS")
COMPANION_PRESENCE_TIMEOUT_SECONDS = 90
# CN-CRI-09 / CN-CMP-03: the appeals mailbox, offered beside the appeal form.
COMPANION_APPEALS_EMAIL = os.environ.get("COMPANION_APPEALS_EMAIL", "appeals@example.com")
# CN-CMP-02 published deadlines (companion/complaints.py): acknowledgement (automatic at filing),
# answer, complex cases (working days from filing, after escalation), triage of safety-related
# reports, appeals (working days, CN-CMP-03). Overdue alerts go to these addresses, else to every
# compliance officer.
COMPANION_COMPLAINT_ACK_HOURS = 24
COMPANION_COMPLAINT_RESULT_DAYS = int(os.environ.get("COMPANION_COMPLAINT_RESULT_DAYS", "7"))
COMPANION_COMPLAINT_COMPLEX_WORKING_DAYS = 15
COMPANION_COMPLAINT_TRIAGE_MINUTES = int(os.environ.get("COMPANION_COMPLAINT_TRIAGE_MINUTES", "60"))
COMPANION_APPEAL_WORKING_DAYS = int(os.environ.get("COMPANION_APPEAL_WORKING_DAYS", "3"))
COMPANION_COMPLAINTS_ALERT_EMAILS = env_list("COMPANION_COMPLAINTS_ALERT_EMAILS")
# CN-DAT-08 retention periods in days (companion/retention.py; docs/retention.md prints them). The
# compliance officer chooses them per deployment; legal floors are in the basis column there.
COMPANION_RETENTION_DAYS = {
    "crisis_cases": 1095, "notifications": 1095, "sanctions": 1095, "drill_runs": 1095, "complaints": 1095,
    "reminders": 184, "dependence_scores": 180, "daily_usage": 184,
}
# Complaints and reports one client address may file per hour (the public form is open to all).
COMPANION_COMPLAINTS_PER_HOUR = 20
# CN-CRI-07: an operator phones the guardian or emergency contact within this many minutes.
COMPANION_CONTACT_CALL_MINUTES = int(os.environ.get("COMPANION_CONTACT_CALL_MINUTES", "15"))
COMPANION_SITE_URL = os.environ.get("COMPANION_SITE_URL", "http://127.0.0.1:8000/")
# BX-16 monthly crisis drill: the mailbox standing in for the synthetic account's emergency contact,
# and the operator account the automated drill claims as (unset: the monthly task skips, logged).
COMPANION_DRILL_CONTACT_EMAIL = os.environ.get("COMPANION_DRILL_CONTACT_EMAIL", "drill@localhost")
COMPANION_DRILL_OPERATOR = os.environ.get("COMPANION_DRILL_OPERATOR", "")
# CN-SVC-01 service notices (companion/notices.py): the least advance notice, in days, before a
# suspension or discontinuation (of a character or the whole service) and before a major change to
# a persona or the terms; and how long a discontinued character's conversations stay readable and
# exportable after the end.
COMPANION_NOTICE_DISCONTINUE_DAYS = int(os.environ.get("COMPANION_NOTICE_DISCONTINUE_DAYS", "30"))
COMPANION_NOTICE_CHANGE_DAYS = int(os.environ.get("COMPANION_NOTICE_CHANGE_DAYS", "7"))
COMPANION_EXPORT_AFTER_END_DAYS = int(os.environ.get("COMPANION_EXPORT_AFTER_END_DAYS", "90"))
# CN-SVC-02: an outage statement is due this many minutes after the outage began (staff pages flag
# a later one).
COMPANION_OUTAGE_STATEMENT_MINUTES = int(os.environ.get("COMPANION_OUTAGE_STATEMENT_MINUTES", "60"))
CELERY_BEAT_SCHEDULE = {
    # A lost countdown (worker restart) must not leave a case unescalated (CN-CRI-08).
    "crisis-sla-sweep": {"task": "companion.tasks.sweep_overdue_cases", "schedule": 15.0},
    "crisis-quiet-cases": {"task": "companion.tasks.close_quiet_crisis_cases", "schedule": 3600.0},
    # BX-16: the automated end-to-end crisis drill, once a month (CELERY_TIMEZONE).
    "crisis-monthly-drill": {"task": "companion.tasks.run_monthly_crisis_drill",
                             "schedule": crontab(day_of_month=1, hour=3, minute=0)},
    # CN-EMO-06: the nightly dependence score over the 7 days ending yesterday (CELERY_TIMEZONE).
    "dependence-nightly-score": {"task": "companion.tasks.score_dependence",
                                 "schedule": crontab(hour=3, minute=30)},
    # CN-DAT-08: records past their retention period (companion/retention.py, docs/retention.md).
    "retention-nightly-purge": {"task": "companion.tasks.purge_expired_records",
                                "schedule": crontab(hour=4, minute=30)},
    # CN-CMP-02: tickets past their deadline are flagged and the compliance team mailed.
    "complaints-overdue": {"task": "companion.tasks.flag_overdue_complaints", "schedule": 300.0},
    # CN-SVC-01: notices mailed (retrying failed sends) and, on their date, chats ended and sockets closed.
    "service-notices": {"task": "companion.tasks.carry_out_service_notices", "schedule": 60.0},
    # CN-MIN-15: the compliance officers are reminded of the yearly minors' audit (30 days before; overdue).
    "minors-audit-reminder": {"task": "companion.tasks.remind_minors_audit",
                              "schedule": crontab(hour=9, minute=0)},
    # CN-MIN-08: guardians' weekly usage email for the week that just ended (Monday morning, CELERY_TIMEZONE).
    "guardian-weekly-summaries": {"task": "guardians.tasks.send_weekly_summaries",
                                  "schedule": crontab(day_of_week="mon", hour=8, minute=0)},
}
CN_REGIME = os.environ.get("CN_REGIME", "union")
POLICY_PACKS = env_list("POLICY_PACKS", "CN")
MODERATION_PROVIDERS = env_list("MODERATION_PROVIDERS")
# Ordered screening stages (STYLE.md §5); all run, so a case shows every reason.
MODERATION_STAGES = [
    {"NAME": "moderation.stages.Normalise"},
    {"NAME": "moderation.library.FeatureLibrary"},
    {"NAME": "moderation.stages.OutboundPatterns"},
    {"NAME": "moderation.stages.InboundCues"},
    # The rules (moderation/classifier.py) plus the learned model trained on our data (moderation/model).
    {"NAME": "moderation.model.HybridClassifier"},
]
# Optional remote second opinions appended after the offline stages (moderation/remote.py): they
# may raise a level up to high_risk, never decide crisis alone, and give no finding when down.
_MODERATION_REMOTE_TIMEOUT = float(os.environ.get("MODERATION_REMOTE_TIMEOUT_SECONDS", "1.5"))
_MODERATION_REMOTE_STAGES = {
    "openai": {"NAME": "moderation.remote.OpenAIModeration", "OPTIONS": {
        "base_url": os.environ.get("MODERATION_OPENAI_BASE_URL", OPENAI_BASE_URL),
        "api_key": os.environ.get("MODERATION_OPENAI_API_KEY", OPENAI_API_KEY),
        "model": os.environ.get("MODERATION_OPENAI_MODEL", "omni-moderation-latest"),
        "timeout": _MODERATION_REMOTE_TIMEOUT}},
    "llm_judge": {"NAME": "moderation.remote.LLMJudge", "OPTIONS": {
        "base_url": os.environ.get("MODERATION_LLM_JUDGE_BASE_URL", OPENAI_BASE_URL),
        "api_key": os.environ.get("MODERATION_LLM_JUDGE_API_KEY", OPENAI_API_KEY),
        "model": os.environ.get("MODERATION_LLM_JUDGE_MODEL", OPENAI_MODEL),
        "timeout": _MODERATION_REMOTE_TIMEOUT}},
}
from django.core.exceptions import ImproperlyConfigured  # noqa: E402  (kept beside its only use)

for _provider in MODERATION_PROVIDERS:
    if _provider not in _MODERATION_REMOTE_STAGES:  # a typo must not silently drop a safety stage
        raise ImproperlyConfigured(f"MODERATION_PROVIDERS: unknown provider {_provider!r}; "
                                   f"choose from {sorted(_MODERATION_REMOTE_STAGES)}")
    MODERATION_STAGES.append(_MODERATION_REMOTE_STAGES[_provider])
# CN-DIS-03: a dependence pop-up at most once in this many hours while the signals last.
COMPANION_DEPENDENCE_REMINDER_HOURS = 24
# CN-EMO-06: one unbroken session this long signals over-reliance (a dependence pop-up, at most daily).
COMPANION_LONG_SESSION_HOURS = 3
# CN-EMO-06 nightly score (companion/dependence.py): flag on >N minutes/day on M of 7 days, night use
# (00:00-05:00) on K of 7 days, or this many dependence cues in 7 days.
COMPANION_DEPENDENCE_HEAVY_MINUTES = 240
COMPANION_DEPENDENCE_HEAVY_DAYS = 3
COMPANION_DEPENDENCE_NIGHT_DAYS = 5
COMPANION_DEPENDENCE_CUES = 3

# Service identity used in labels (CN-DIS-04, CN-DIS-05) and the footer (CN-GOV-05).
COMPANION_SERVICE_NAME = os.environ.get("COMPANION_SERVICE_NAME", "Haven")
COMPANION_PROVIDER_CODE = os.environ.get("COMPANION_PROVIDER_CODE", "HAVEN-DEMO-001")
COMPANION_ALGORITHM_FILING_NUMBER = os.environ.get("COMPANION_ALGORITHM_FILING_NUMBER", "")
COMPANION_ALGORITHM_FILING_URL = os.environ.get("COMPANION_ALGORITHM_FILING_URL", "")
# Chat input limits, documented in docs/protocol.md.
COMPANION_MAX_MESSAGE_CHARS = 2000
COMPANION_MAX_FRAME_BYTES = 16 * 1024
COMPANION_MESSAGES_PER_MINUTE = 30
COMPANION_ERRORS_BEFORE_CLOSE = 20
COMPANION_HISTORY_LIMIT = 50
# Threads running chat services per process on PostgreSQL (companion/asyncdb.py).
COMPANION_DB_THREADS = int(os.environ.get("COMPANION_DB_THREADS", "2"))
COMPANION_PROMPT_HISTORY_TURNS = 12
# CN-USE-01: a gap this long ends "continuous" use. The catalog's default (20) is stricter than 15.
COMPANION_CONTINUITY_GAP_MINUTES = float(os.environ.get("COMPANION_CONTINUITY_GAP_MINUTES", "20"))
# Compliance staff may shorten every periodic reminder interval (never lengthen it); demos use it too.
COMPANION_REMINDER_INTERVAL_CAP_MINUTES = (float(os.environ["COMPANION_REMINDER_INTERVAL_CAP_MINUTES"])
                                           if os.environ.get("COMPANION_REMINDER_INTERVAL_CAP_MINUTES") else None)
# Clients send a heartbeat while the chat is visible; reading counts as use (CN-USE-01).
COMPANION_HEARTBEAT_SECONDS = int(os.environ.get("COMPANION_HEARTBEAT_SECONDS", "60"))
# CN-MIN-10: minors' default daily chat minutes by age (under 8, 8-15, 16-17), counted per Beijing day
# on the server across devices; env "40,60,120". Guardians may only tighten these (not built yet).
# CN-DAT-10: sensitive features (remote screening, the training extract) run only while a compliance
# officer's personal-information impact assessment of them is in force (companion/assessments.py).
COMPANION_IMPACT_ASSESSMENT_GATE = env_bool("COMPANION_IMPACT_ASSESSMENT_GATE", True)
# CN-MIN-15: each year's minors' personal-information audit is signed off by this date ("MM-DD") of
# the following year; the compliance officers are reminded 30 days before and when it is overdue.
COMPANION_MINORS_AUDIT_DUE = os.environ.get("COMPANION_MINORS_AUDIT_DUE", "03-31")
# CN-MIN-05: chat signs of a minor (moderation.age_cues) add up over this many days; one statement of
# an age or school year switches minor mode on, school-day talk needs four messages in the window.
ACCOUNTS_AGE_CUE_WINDOW_DAYS = int(os.environ.get("ACCOUNTS_AGE_CUE_WINDOW_DAYS", "14"))
# CN-MIN-06: working days (Monday to Friday) to decide a suspected minor's appeal; then it is overdue.
ACCOUNTS_MINOR_APPEAL_WORKING_DAYS = int(os.environ.get("ACCOUNTS_MINOR_APPEAL_WORKING_DAYS", "3"))
COMPANION_MINOR_DAILY_MINUTES = dict(zip(
    ("under_8", "age_8_to_15", "age_16_to_17"),
    (float(part) for part in os.environ.get("COMPANION_MINOR_DAILY_MINUTES", "40,60,120").split(","))))
# CN-MIN-10: no service to minors in these Beijing hours ("HH:MM-HH:MM", may wrap midnight; "" = off).
COMPANION_MINOR_CURFEW = os.environ.get("COMPANION_MINOR_CURFEW", "22:00-06:00")
# CN-USE-04: editable exit keyword list, checked before any generation.
COMPANION_EXIT_KEYWORDS = ["退出", "结束对话", "结束聊天", "退出聊天", "exit", "quit", "/exit", "/quit"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"daphne": {"level": "WARNING"}, "django.channels.server": {"level": "WARNING"}},
}

# --- Contacts and safety notifications (guardians) ---
# Outgoing mail (safety notices); EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, DEFAULT_FROM_EMAIL are above.
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
EMAIL_TIMEOUT = float(os.environ.get("EMAIL_TIMEOUT_SECONDS", "10"))
# SMS senders (guardians/sms.py): the console default logs; the HTTP gateway POSTs JSON with a bearer token.
SMS_BACKEND = os.environ.get("SMS_BACKEND", "guardians.sms.ConsoleSMSBackend")
SMS_GATEWAY_URL = os.environ.get("SMS_GATEWAY_URL", "")
SMS_GATEWAY_TOKEN = os.environ.get("SMS_GATEWAY_TOKEN", "")
SMS_GATEWAY_TIMEOUT_SECONDS = float(os.environ.get("SMS_GATEWAY_TIMEOUT_SECONDS", "10"))
GUARDIANS_MAX_EMERGENCY_CONTACTS = 3
# A delivery attempt's claim on its row; a row still `sending` after this belongs to a lost worker and
# is sent again (guardians/services.py). Longer than one send can take with EMAIL_TIMEOUT per step.
GUARDIANS_DELIVERY_LEASE_SECONDS = float(os.environ.get("GUARDIANS_DELIVERY_LEASE_SECONDS", "60"))
GUARDIANS_RETRY_BASE_SECONDS = 2
# Contacts (CN-REG-03, BX-13, CN-MIN-03): a contact confirms with the code texted to them (typed by
# the user or, for a guardian, in the portal) or through the link in the invitation.
GUARDIANS_CONTACT_CODE_TTL_SECONDS = int(os.environ.get("GUARDIANS_CONTACT_CODE_TTL_SECONDS", str(24 * 3600)))
GUARDIANS_CONTACT_CODE_MAX_ATTEMPTS = 5
GUARDIANS_CONTACT_CODE_RESEND_SECONDS = 60
GUARDIANS_CONTACT_LINK_TTL_DAYS = 14
# An adult who chose to skip naming an emergency contact is asked again after this many days.
GUARDIANS_CONTACT_PROMPT_DAYS = int(os.environ.get("GUARDIANS_CONTACT_PROMPT_DAYS", "30"))
# The guardian consent notice (CN-MIN-03, CN-MIN-04); a new version does not void consents given.
GUARDIANS_CONSENT_NOTICE_VERSION = "2026-11-28"
# CN-CRI-07 wants contacts told within 60 s: a task held by a worker that died must come back in
# a minute or two, not after the Redis transport's default hour (visibility timeout, above the lease
# and the longest retry countdown), and idle workers look for such tasks on every poll (throttle 1;
# kombu's default scans every ~100 s). CELERY_KEY_PREFIX keeps deployments or test runs sharing one
# Redis apart.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT_SECONDS", "90")),
    "unacked_restore_throttle": 1,
    **({"global_keyprefix": os.environ["CELERY_KEY_PREFIX"]} if os.environ.get("CELERY_KEY_PREFIX") else {}),
}
# The obligations catalog that docs/compliance.md maps (`manage.py check_compliance`); the shared
# folder sits beside the checkout (DEVELOPERS.md).
COMPLIANCE_OBLIGATIONS_FILE = Path(os.environ.get("COMPLIANCE_OBLIGATIONS_FILE", BASE_DIR.parent / "shared" / "obligations.md"))
# Audit log (accounts/audit.py, BX-11): HMAC keys for the hash chain, newest first, kept outside the
# database (unset: one derived from DJANGO_SECRET_KEY, fine for development only). Rows are kept at
# least 184 days (the trigger refuses less); a daily beat job purges older ones and exports an anchor.
AUDIT_CHAIN_KEYS = env_list("AUDIT_CHAIN_KEYS")
AUDIT_RETENTION_DAYS = int(os.environ.get("AUDIT_RETENTION_DAYS", "184"))
# BX-11 daily anchors (the chain head) go to this file as well as the log; point it at storage the
# database host cannot rewrite (another volume, a WORM bucket mount). Empty: log only.
AUDIT_ANCHOR_FILE = os.environ.get("AUDIT_ANCHOR_FILE", str(BASE_DIR / "var" / "audit-anchors.jsonl"))
CELERY_BEAT_SCHEDULE["audit-daily-purge-and-head"] = {"task": "accounts.tasks.audit_daily",
                                                     "schedule": crontab(hour=4, minute=0)}
# CN-REG-01, CN-DAT-07: the current version of each policy a person consents to (accounts/consents.py).
# Publishing a new version of a required one (terms, privacy, sensitive) asks everyone again before
# their next chat; a new training version makes earlier training consents lapse.
ACCOUNTS_POLICY_VERSIONS = {"terms": "2026-11-01", "privacy": "2026-11-01", "sensitive": "2026-11-01",
                            "training": "2026-11-01"}
# CN-DAT-09: a copy of one's data (companion/privacy.py) can be downloaded for this many days.
COMPANION_DATA_EXPORT_DAYS = 7
# CN-REG-04: mobile-number verification at sign-up (accounts/identity.py). A code lives 10 minutes
# and allows 5 tries; codes go out at most every 60 s and 5 an hour per account and per number.
# Sign-up lands on the code page; chat waits for it.
ACCOUNTS_PHONE_CODE_TTL_SECONDS = 600
ACCOUNTS_PHONE_CODE_MAX_ATTEMPTS = 5
ACCOUNTS_PHONE_CODE_RESEND_SECONDS = 60
ACCOUNTS_PHONE_CODES_PER_HOUR = 5
ACCOUNT_SIGNUP_REDIRECT_URL = "phone_verification"
# CN-REG-02, CN-REG-05: birthdays move people between age bands; recorded just after midnight.
CELERY_BEAT_SCHEDULE["accounts-daily-age-bands"] = {"task": "accounts.tasks.recompute_age_bands",
                                                   "schedule": crontab(hour=0, minute=5)}
# CN-ELD-04: the anti-fraud warning card shows at most once per conversation in this many minutes.
COMPANION_SCAM_WARNING_MINUTES = int(os.environ.get("COMPANION_SCAM_WARNING_MINUTES", "30"))
# CN-ELD-05: a 60+ user's "Talk to a person" request gets its first staff reply within this many
# minutes, at any hour; unanswered after that it is flagged overdue and the team is mailed.
COMPANION_HELP_REPLY_MINUTES = int(os.environ.get("COMPANION_HELP_REPLY_MINUTES", "10"))
