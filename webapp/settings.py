"""Glassbox settings: one file, every deploy-specific value read from the environment.

Defaults are for a laptop or a classroom machine: DEBUG on, SQLite, Redis on loopback.
A production deploy sets at least SECRET_KEY, DEBUG=false and ALLOWED_HOSTS.
"""

from __future__ import annotations

from pathlib import Path

from .env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", True)
_DEV_SECRET = "glassbox-development-only-secret-key-not-for-production-use-000"
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET if DEBUG else "")
if not SECRET_KEY:
    raise RuntimeError("SECRET_KEY must be set in the environment when DEBUG is off")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Behind HTTPS in production, cookies only travel encrypted (SECURE_COOKIES=false to opt out).
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
if env_bool("BEHIND_HTTPS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

INSTALLED_APPS = [
    "daphne",  # runserver serves websockets too
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "webapp.catalog",
    "webapp.pages",
    "webapp.lessons",
    "webapp.playground",
    "webapp.tokenizers",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "webapp.urls"
ASGI_APPLICATION = "webapp.asgi.application"

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
            ],
        },
    },
]

# SQLite by default; DATABASE_URL=postgres://user:pass@host:5432/name for PostgreSQL.
DATABASE_URL = env_str("DATABASE_URL", "")
if DATABASE_URL:
    from urllib.parse import urlparse

    _db = urlparse(DATABASE_URL)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _db.path.lstrip("/"),
            "USER": _db.username or "",
            "PASSWORD": _db.password or "",
            "HOST": _db.hostname or "",
            "PORT": str(_db.port or ""),
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# uploads larger than this go to a temporary file rather than memory
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 2**20
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 2**20

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# -- Redis: Celery's broker and the Channels layer ------------------------------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py 8 defaults to a 5 s socket timeout, which breaks the layer's
            # blocking receive and closes idle websockets (channels_redis issue 422)
            "hosts": [{"address": REDIS_URL, "socket_timeout": None}],
            # steps are coalesced by the worker; this is headroom for a burst, not a queue
            # consumers' channels are process-local ("specific.…!…"), and channels_redis
            # keeps all of one Daphne process's in one Redis key and counts them together:
            # the capacity is for every student on that process at once, not for one
            "capacity": env_int("CHANNEL_CAPACITY", 20000),
            "expiry": 60,
        },
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_IGNORE_RESULT = True  # results travel over the channel layer
CELERY_TASK_ACKS_LATE = False  # a generation replayed to a client who left is worse than a lost one
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# the first matching pattern wins: lesson 13's training runs beside the model checks
CELERY_TASK_ROUTES = {
    "playground.train": {"queue": "cpu"},
    "playground.*": {"queue": "gpu"},
    "catalog.*": {"queue": "cpu"},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

# -- Glassbox ------------------------------------------------------------------------------
GLASSBOX = {
    # where bundled and imported models live (a private folder, never served)
    "MODELS_DIR": Path(env_str("GLASSBOX_MODELS_DIR", str(BASE_DIR / "models"))),
    # the training corpus (`make corpus`), which lesson 13's Shakespeare excerpt is cut from
    "CORPUS_DIR": Path(env_str("GLASSBOX_CORPUS_DIR", str(BASE_DIR / "data" / "shakespeare"))),
    # OpenAI's encodings as local rank files, written by `make tokenizers`
    "TOKENIZERS_DIR": Path(
        env_str("GLASSBOX_TOKENIZERS_DIR", str(BASE_DIR / "var" / "tokenizers"))
    ),
    "DEFAULT_MODEL": env_str("GLASSBOX_DEFAULT_MODEL", "shakespeare"),
    # the worker's device and threads; DEVICE=cuda on a GPU machine
    "DEVICE": env_str("DEVICE", "cpu"),
    "TORCH_THREADS": env_int("TORCH_THREADS", 1),
    # continuous batching (webapp/playground/engines.py): generations one worker process
    # advances together (the rest wait in line, first come first served), and how many
    # prompt tokens a step may prefill beyond the first new request (0 = no limit)
    "BATCH_SIZE": env_int("GLASSBOX_BATCH_SIZE", 32),
    "PREFILL_TOKENS_PER_STEP": env_int("GLASSBOX_PREFILL_TOKENS_PER_STEP", 0),
    # the largest model folder or upload accepted, and the memory a worker may fill with models
    "MAX_MODEL_MB": env_int("GLASSBOX_MAX_MODEL_MB", 1024),
    "WORKER_MEMORY_MB": env_int("GLASSBOX_WORKER_MEMORY_MB", 2048),
    # request limits
    "MAX_PROMPT_CHARS": env_int("GLASSBOX_MAX_PROMPT_CHARS", 4000),
    # one websocket frame from a browser (Daphne's own cap, in the Procfile, is 16 MiB
    # because it also bounds what the server sends: a trace reply is up to 8 MB)
    "MAX_CLIENT_MESSAGE_CHARS": env_int("GLASSBOX_MAX_CLIENT_MESSAGE_CHARS", 64_000),
    "MAX_NEW_TOKENS": env_int("GLASSBOX_MAX_NEW_TOKENS", 500),
    "MAX_CANDIDATES": 20,
    "GENERATION_TIME_LIMIT_S": env_float("GLASSBOX_GENERATION_TIME_LIMIT_S", 120.0),
    # a request still queued after this is dropped by Celery and reported to the client
    "QUEUE_TIMEOUT_S": env_float("GLASSBOX_QUEUE_TIMEOUT_S", 60.0),
    # worker heartbeats: a worker silent for this long is considered gone
    "WORKER_HEARTBEAT_TTL_S": env_float("GLASSBOX_WORKER_HEARTBEAT_TTL_S", 6.0),
    # per-minute limits (0 = off; docs/operations.md, "Limits"): generations and traces per
    # student (the logged-in user, else the browser's session, else the address) ...
    "RATE_LIMIT_PER_MINUTE": env_int("GLASSBOX_RATE_LIMIT_PER_MINUTE", 30),
    "TRACE_RATE_LIMIT_PER_MINUTE": env_int("GLASSBOX_TRACE_RATE_LIMIT_PER_MINUTE", 240),
    # ... and per address, all students behind it together: a loose outer bound, 50 students'
    # worth, so that a class of 40 behind one school address never reaches it
    "ADDRESS_RATE_LIMIT_PER_MINUTE": env_int("GLASSBOX_ADDRESS_RATE_LIMIT_PER_MINUTE", 1500),
    "ADDRESS_TRACE_RATE_LIMIT_PER_MINUTE": env_int(
        "GLASSBOX_ADDRESS_TRACE_RATE_LIMIT_PER_MINUTE", 12_000
    ),
    # the largest `trace_result` a worker sends; larger replies become `reply_too_large`
    "TRACE_MAX_REPLY_BYTES": env_int("GLASSBOX_TRACE_MAX_REPLY_BYTES", 8_000_000),
    # lesson 13's mini training run (the `trainer` process, queue "cpu"): its wall-clock cap
    # and torch threads; one run per student at a time (docs/operations.md)
    "TRAIN_TIME_LIMIT_S": env_float("GLASSBOX_TRAIN_TIME_LIMIT_S", 60.0),
    "TRAIN_TORCH_THREADS": env_int("GLASSBOX_TRAIN_TORCH_THREADS", 1),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
