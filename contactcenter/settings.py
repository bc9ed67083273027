"""Settings: everything from the environment through the typed helpers in `env.py`.

Production is the default; demo mode (`CC_DEMO_MODE=true`, set by `make run` and the tests)
relaxes what a laptop cannot provide (HTTPS, a configured secret key, allowed hosts).
"""

from __future__ import annotations

import datetime
import secrets
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.utils.translation import gettext_lazy as _

from .env import (
    ConfigurationError,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_str,
    env_time_zone,
    parse_database_url,
    parse_redis_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("CC_VAR_DIR", str(BASE_DIR / "var")))

DEMO_MODE = env_bool("CC_DEMO_MODE", False)
DEBUG = env_bool("DEBUG", False)


def _demo_secret_key() -> str:
    # A per-checkout random key kept under var/, so demo sessions survive a restart.
    path = VAR_DIR / "demo_secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


if DEMO_MODE:
    SECRET_KEY = env_str("SECRET_KEY", "") or _demo_secret_key()
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
else:
    SECRET_KEY = env_str("SECRET_KEY", "")
    if len(SECRET_KEY) < 50:
        raise ConfigurationError("SECRET_KEY must be set to a random string of at least 50 characters")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
    if not ALLOWED_HOSTS:
        raise ConfigurationError("ALLOWED_HOSTS must list the host names this server answers to")

CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
for _origin in CSRF_TRUSTED_ORIGINS:
    if not _origin.startswith(("http://", "https://")):
        raise ConfigurationError(f"CSRF_TRUSTED_ORIGINS entry {_origin!r} must start with http:// or https://")

DATABASES = {"default": parse_database_url("DATABASE_URL", env_str("DATABASE_URL", ""))}
# A psycopg connection pool per process: WebSocket frames hit the database from a thread
# pool, and opening a connection per frame would cost more than the frame's own queries.
CC_DB_THREADS = env_int("CC_DB_THREADS", 8, minimum=1)  # WebSocket frames' database threads per process
DB_POOL_SIZE = env_int("CC_DB_POOL_SIZE", CC_DB_THREADS + 4, minimum=0)
# Container objects allocated between two young collections in a server process (CPython's
# default is 700; 0 keeps CPython's settings): contactcenter/collector.py.
CC_GC_YOUNG_OBJECTS = env_int("CC_GC_YOUNG_OBJECTS", 20_000, minimum=0)
if DB_POOL_SIZE:
    DATABASES["default"]["OPTIONS"]["pool"] = {"min_size": 1, "max_size": DB_POOL_SIZE, "timeout": 10}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("CC_DB_CONN_MAX_AGE", 0, minimum=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = parse_redis_url("REDIS_URL", env_str("REDIS_URL", "")).url

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
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "import_export",
    "contactcenter",
    "routing",
    "chat",
    "voice",
    "reports",
    "supervision",
    "quality",
    "webhooks",
    # Last, as its documentation asks: it wraps authentication and the admin.
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "contactcenter.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "contactcenter.middleware.UserTimeZoneMiddleware",
    "contactcenter.middleware.ApiServerErrorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a login refused for lock-out into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "contactcenter.urls"
ASGI_APPLICATION = "contactcenter.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"

# Lock-out after repeated failed logins (django-axes): per username and address together,
# so a stranger cannot lock an agent out from elsewhere, while the per-address login
# throttle (CC_THROTTLE_LOGIN) slows guessing across many usernames. A lock lifts after
# the cool-off time, or when an admin deletes the access attempt in the console.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("CC_LOGIN_FAILURES_BEFORE_LOCKOUT", 5, minimum=1)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env_int("CC_LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "contactcenter.lockout.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
# Failures are kept (the admin's "access attempts"); successful logins are not logged twice.
AXES_DISABLE_ACCESS_LOG = True
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Internationalisation: every customer- and agent-visible text is translatable.
LANGUAGE_CODE = env_choice("LANGUAGE_CODE", "en", ["en", "fi", "sv", "nb", "da", "ru"])
LANGUAGES = [
    ("en", _("English")),
    ("fi", _("Finnish")),
    ("sv", _("Swedish")),
    ("nb", _("Norwegian")),
    ("da", _("Danish")),
    ("ru", _("Russian")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_time_zone("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and not DEMO_MODE
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG or DEMO_MODE
if WHITENOISE_USE_FINDERS:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns at every start without it
MEDIA_ROOT = VAR_DIR / "media"

# Realtime: the pub/sub layer sustains about 4x the list-based one at equal latency (issue 3).
CHANNEL_PREFIX = env_str("CC_CHANNEL_PREFIX", "cc")
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "contactcenter.channel_layer.RealtimeChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": CHANNEL_PREFIX},
    }
}

# Routing: an agent who lets this many offers in a row expire is set not ready.
CC_MISSED_OFFERS_BEFORE_NOT_READY = env_int("CC_MISSED_OFFERS_BEFORE_NOT_READY", 1, minimum=1)

# Celery: Redis broker, late acknowledgement so a crashed worker's task is redelivered.
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = env_str("CC_CELERY_QUEUE", "contactcenter")
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "global_keyprefix": f"{CHANNEL_PREFIX}:"}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# A worker that has not written its heartbeat for this long is reported as missing by /readyz.
CC_WORKER_HEARTBEAT_SECONDS = 10
CC_WORKER_STALE_SECONDS = env_int("CC_WORKER_STALE_SECONDS", 60, minimum=5)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Every API error in one shape: {"error", "message", "fields"?} (docs/api.md).
    "EXCEPTION_HANDLER": "contactcenter.api_errors.exception_handler",
    # Counted atomically in Redis (contactcenter/throttling.py).
    "DEFAULT_THROTTLE_CLASSES": ["contactcenter.throttling.ApiThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "login": env_str("CC_THROTTLE_LOGIN", "10/minute"),
        # Chats started and offline messages left per client address.
        "customer": env_str("CC_THROTTLE_CUSTOMER", "120/minute"),
        # Every authenticated API call, per token or signed-in user.
        "api": env_str("CC_THROTTLE_API", "1200/minute"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Contact center API",
    "DESCRIPTION": "REST API of the contact center: widgets, conversations, agents, queues.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Swagger UI would otherwise load a badge from validator.swagger.io: nothing from elsewhere.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
    # Three choice sets share the field name "state": name each.
    "ENUM_NAME_OVERRIDES": {
        "ConversationStateEnum": "chat.models.Conversation.State",
        "AgentPresenceStateEnum": "chat.api.AGENT_PRESENCE_STATES",
        "SupervisedPresenceStateEnum": "supervision.services.PRESENCE_STATES",
    },
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": CHANNEL_PREFIX,
    }
}


def _email_settings(url: str) -> dict:
    parts = urlsplit(url)
    if parts.scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if parts.scheme not in ("smtp", "smtps", "submission"):
        raise ConfigurationError("EMAIL_URL must be smtp://, smtps://, submission:// or console://")
    if not parts.hostname:
        raise ConfigurationError("EMAIL_URL has no host")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    try:
        port = parts.port
    except ValueError:
        raise ConfigurationError("EMAIL_URL has a bad port") from None
    default_port = {"smtp": 25, "smtps": 465, "submission": 587}[parts.scheme]
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname,
        "EMAIL_PORT": port or default_port,
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_SSL": parts.scheme == "smtps",
        "EMAIL_USE_TLS": parts.scheme == "submission",
        "DEFAULT_FROM_EMAIL": query.get("from", DEFAULT_FROM_EMAIL),
    }


DEFAULT_FROM_EMAIL = "contact-center@localhost"
# A mail server that stops answering must not hold a Celery worker for ever: the send fails
# and the task tries again (transcripts, reports, webhooks' mails).
EMAIL_TIMEOUT = env_int("CC_EMAIL_TIMEOUT_SECONDS", 30, minimum=1)
globals().update(_email_settings(env_str("EMAIL_URL", "console://" if DEMO_MODE else "smtp://localhost:25")))
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Security: strict in production; demo mode runs over plain HTTP on loopback.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# No inline script, no eval, no plugin, no foreign origin; sockets and fetches to our own
# host only ('self' covers ws: and wss: there). Inline style attributes stay allowed: they
# cannot run code. Framing stays X_FRAME_OPTIONS' (the widget's page sets its own).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'"
)
SECURE_REFERRER_POLICY = "same-origin"
if not DEMO_MODE and not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("CC_SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("CC_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("CC_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

LOG_FORMAT = "text" if DEMO_MODE else "json"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "contactcenter.logs.JsonFormatter"},
    },
    "handlers": {"stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["stdout"], "level": env_choice("LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING", "ERROR"])},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "daphne": {"level": "WARNING"},
    },
}

# Voice (docs/voice.md).
# Browsers cancel echo, suppress noise and control gain on the microphone: what a caller on a
# laptop needs. Off only where every party wears a headset (and in tests that send pure tones,
# which noise suppression takes for noise).
CC_CALL_VOICE_PROCESSING = env_bool("CC_CALL_VOICE_PROCESSING", True)
# Recordings are sealed to this X.509 certificate (PEM) before they reach the disk; without
# one, no call is recorded. The private key is needed only where recordings are played, and
# may be left off the servers that write them. Demo mode makes a pair in CC_VAR_DIR.
CC_RECORDINGS_DIR = Path(env_str("CC_RECORDINGS_DIR", str(VAR_DIR / "recordings")))
CC_RECORDINGS_CERTIFICATE = env_str(
    "CC_RECORDINGS_CERTIFICATE", str(VAR_DIR / "recordings-demo.crt") if DEMO_MODE else ""
)
CC_RECORDINGS_PRIVATE_KEY = env_str(
    "CC_RECORDINGS_PRIVATE_KEY", str(VAR_DIR / "recordings-demo.key") if DEMO_MODE else ""
)
