"""Settings for geo_portal, read from the environment with defaults that work locally.

Every setting the code reads is declared here, each with its environment variable
(the README's configuration table lists them); the code reads ``settings.X``, never
``getattr(settings, "X", default)`` — one default, in one place.
"""

import os
import sys
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

from geo_portal import basemap as _basemap

BASE_DIR = Path(__file__).resolve().parent.parent


_true_words, _false_words = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in _true_words


# Off unless asked for; SECRET_KEY is settled in the "production safety" block below.
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = [h.strip()
                 for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [
    o.strip()
    for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000").split(",")
    if o.strip()
]

# Real boundary data and Boston 311 live outside the repository (see README).
DATA_DIR = Path(os.environ.get("GEO_PORTAL_DATA_DIR", BASE_DIR.parent / "shared" / "data")).resolve()
# Whether scripts/run loads the demo (fixtures.demo.demo_refusal): "auto" into a new
# database or the demo's own, never beside reports it did not make; "1" always; "0" never
# (a real deployment: the demo's accounts have a published password).
GEO_PORTAL_DEMO = os.environ.get("GEO_PORTAL_DEMO", "auto").strip().lower() or "auto"
if GEO_PORTAL_DEMO != "auto":
    if GEO_PORTAL_DEMO not in _true_words | _false_words:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("GEO_PORTAL_DEMO must be auto, 1 or 0")
    GEO_PORTAL_DEMO = "1" if env_bool("GEO_PORTAL_DEMO") else "0"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "rest_framework",
    "rest_framework.authtoken",
    "rest_framework_gis",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "geo_portal.accounts",
    "boundaries",
    "reports",
    "heatmaps",
    "agencies",
    "alerts",
    "open311",
    "ogcapi",
]

AUTH_USER_MODEL = "accounts.User"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "reports.middleware.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below WhiteNoise: static files never reach these.
    "geo_portal.production.DatabaseUnavailableMiddleware",
    "geo_portal.production.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "geo_portal.middleware.ChosenLanguageMiddleware",
    # NUL bytes, non-object JSON, chunked bodies: one 400 naming the field (geo_portal/input_guard.py)
    "geo_portal.input_guard.InputGuardMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# Machine interfaces: their clients may ask for English with Accept-Language (pages
# follow the language switcher only; geo_portal/middleware.py).
ACCEPT_LANGUAGE_PATHS = ("/api/", "/open311/")
# Machine interfaces: during a database outage they answer JSON 503 (geo_portal/production.py).
MACHINE_PATHS = ("/api/", "/accounts/api/", "/tiles/", "/open311/", "/ogcapi/")
# Interfaces whose clients expect their own error format from the input guard's 400.
INPUT_REFUSAL_RENDERERS = {"/open311/": "open311.views.refused_input"}

ROOT_URLCONF = "geo_portal.urls"
WSGI_APPLICATION = "geo_portal.wsgi.application"
# geo_portal/asgi.py: long-lived streams served by their own asynchronous apps (no
# thread held per open stream); everything else goes to Django on a thread pool.
ASGI_STREAMS = {"/ioc/events": "heatmaps.live.stream_app"}
ASGI_SHUTDOWN = ["heatmaps.live.shutdown", "geo_portal.async_db.close_pools"]
# Hot API paths answered on the event loop without Django's middleware and thread pool
# (each a factory given Django's app, to which it hands what it does not answer itself).
# ASGI_LEAN=0 sends them to Django like every other path (bench/peers.py compares both).
# A path ending in "/" names every path under it.
ASGI_LEAN_PATHS = {
    "/api/v1/locate": "reports.api_locate_lean.lean_locate_app",
    "/tiles/reports/": "heatmaps.tiles_lean.lean_tile_app",
} if env_bool("ASGI_LEAN", True) else {}
# Asynchronous PostgreSQL connections per worker for those paths (geo_portal/async_db.py).
ASGI_LEAN_DB_CONNECTIONS = int(os.environ.get("ASGI_LEAN_DB_CONNECTIONS", 2))
# Threads per worker process running Django's (synchronous) views under ASGI.
WEB_THREADS = int(os.environ.get("WEB_THREADS", 8))
# Worker processes of scripts/run's gunicorn (geo_portal/gunicorn_conf.py reads it).
WEB_WORKERS = int(os.environ.get("WEB_WORKERS", 3))
# A quiet stream sends a comment this often, so that proxies keep it open.
LIVE_HEARTBEAT_S = float(os.environ.get("LIVE_HEARTBEAT_S", 15))

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "geo_portal" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "geo_portal.basemap.context",
            ],
        },
    },
]

# Database -------------------------------------------------------------------
# Persistent connections: a fresh backend's first PostGIS call costs ~18 ms more.
# JIT and parallel workers are off for the web connections (tile and API queries are
# short; JIT adds 75-230 ms, a worker's start-up 5-25 ms). Bulk jobs turn
# parallelism back on with SET LOCAL where it pays.
DATABASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/geo_portal")
_db = dj_database_url.parse(DATABASE_URL, conn_max_age=600, conn_health_checks=True)
_db["ENGINE"] = "django.contrib.gis.db.backends.postgis"
# plan_cache_mode: the few server-side prepared statements (boundaries.lookup's point
# lookup; Django itself prepares none) reuse one generic plan instead of re-planning
# each call (0.9 -> 0.4 ms per lookup on the national communes).
_db.setdefault("OPTIONS", {})["options"] = (
    "-c jit=off -c max_parallel_workers_per_gather=0 -c plan_cache_mode=force_generic_plan"
)
_db["TEST"] = {"NAME": os.environ.get("GEO_PORTAL_TEST_DB") or f"test_{_db['NAME']}"}
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache and queue -----------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")
CACHES = {
    "default": {
        "BACKEND": "geo_portal.cache.RedisCache",  # one connection pool per process
        "LOCATION": f"{REDIS_URL}/1",
        # Several checkouts (and the test database) may share one Redis. CACHE_KEY_PREFIX
        # overrides it (a test's server starts from an empty cache of its own).
        "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX") or _db["NAME"],
    }
}
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", f"{REDIS_URL}/0")
# Queues and every broker key are named after the database, as the cache keys are: two
# checkouts on one Redis never take each other's tasks. CELERY_KEY_PREFIX overrides the
# key prefix (a test's worker on the test database shares the test process's).
CELERY_TASK_DEFAULT_QUEUE = f"geo_portal.{_db['NAME']}"
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": os.environ.get("CELERY_KEY_PREFIX") or f"{_db['NAME']}:"}
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TIMEZONE = "Asia/Ho_Chi_Minh"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Reports: reminders before deadlines and escalations after them; a safety net that
# sends notifications whose after-commit dispatch was lost.
CELERY_BEAT_SCHEDULE = {
    "reports-deadline-sweep": {"task": "reports.deadline_sweep", "schedule": 600.0},
    "reports-send-notifications": {"task": "reports.send_notifications", "schedule": 60.0},
    # Reporter data retention (reports/retention.py), every night at 02:30 local time.
    "reports-anonymise-reporters": {"task": "reports.anonymise_reporters", "schedule": crontab(hour=2, minute=30)},
    # Heatmaps: bring the roll-ups up to date (changed reports, passed deadlines).
    "heatmaps-refresh": {"task": "heatmaps.refresh_incremental", "schedule": 30.0},
    # Agencies: webhook deliveries whose time has come and whose task was lost.
    "agencies-send-due-webhooks": {"task": "agencies.send_due_webhooks", "schedule": 60.0},
    # Area alerts: queue and send what became public since the last run; digests at 07:00.
    "alerts-scan": {"task": "alerts.scan", "schedule": 60.0},
    "alerts-digest": {"task": "alerts.digest", "schedule": crontab(hour=7, minute=0)},
}
# Area alerts (alerts/): links in messages are absolute; Web Push signs with VAPID keys
# (generate a pair with `vapid --gen` of py-vapid; the private key as PEM or base64url).
GEO_PORTAL_BASE_URL = os.environ.get("GEO_PORTAL_BASE_URL", "http://127.0.0.1:8000")
WEBPUSH_VAPID_PUBLIC_KEY = os.environ.get("WEBPUSH_VAPID_PUBLIC_KEY", "")
WEBPUSH_VAPID_PRIVATE_KEY = os.environ.get("WEBPUSH_VAPID_PRIVATE_KEY", "")
WEBPUSH_VAPID_SUBJECT = os.environ.get("WEBPUSH_VAPID_SUBJECT", "mailto:no-reply@localhost")
# The largest circle (metres) and drawn area (km²) a subscription may cover.
ALERT_MAX_RADIUS_M = int(os.environ.get("ALERT_MAX_RADIUS_M", 5000))
ALERT_MAX_POLYGON_KM2 = float(os.environ.get("ALERT_MAX_POLYGON_KM2", 100))
# Open311 discovery's contact line (empty: the operations desk's name).
OPEN311_CONTACT = os.environ.get("OPEN311_CONTACT", "")
# Agencies' webhooks (agencies/): endpoints on private or loopback addresses are refused
# unless this is set (an agency on the intranet; the tests). The retry schedule in
# seconds (default: Standard Webhooks' 0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h) and how
# deliveries are handed over ("celery"; "sync" runs the task eagerly; "none").
GEO_PORTAL_WEBHOOK_ALLOW_PRIVATE = env_bool("GEO_PORTAL_WEBHOOK_ALLOW_PRIVATE", False)
GEO_PORTAL_WEBHOOK_SCHEDULE = [float(x) for x in os.environ.get("GEO_PORTAL_WEBHOOK_SCHEDULE", "").split(",")
                               if x.strip()] or None
GEO_PORTAL_WEBHOOK_DISPATCH = os.environ.get("GEO_PORTAL_WEBHOOK_DISPATCH", "celery")
# Heatmaps: an authority is ranked from this many reports in the period; known
# "not geocoded" placeholder points (lon, lat) left out of every map layer.
HEATMAP_RANKING_MIN_VOLUME = int(os.environ.get("HEATMAP_RANKING_MIN_VOLUME", 20))
# "lon,lat;lon,lat…" — default Boston City Hall.
HEATMAP_PLACEHOLDER_POINTS = [
    tuple(float(x) for x in pair.split(","))
    for pair in os.environ.get("HEATMAP_PLACEHOLDER_POINTS", "-71.0587,42.3594").split(";")
    if pair.strip()
]
# Grid bins: bins per tile side, the coarsest and finest pre-aggregated zoom levels;
# above HEATMAP_MAX_BIN_ZOOM tiles carry raw points, at most HEATMAP_TILE_MAX_POINTS.
HEATMAP_BINS_PER_TILE = int(os.environ.get("HEATMAP_BINS_PER_TILE", 64))
HEATMAP_MIN_LEVEL = int(os.environ.get("HEATMAP_MIN_LEVEL", 3))
HEATMAP_MAX_BIN_ZOOM = int(os.environ.get("HEATMAP_MAX_BIN_ZOOM", 9))
HEATMAP_TILE_MAX_POINTS = int(os.environ.get("HEATMAP_TILE_MAX_POINTS", 10_000))
# Point tiles of these zooms are rendered by the roll-up refresh for every month (the
# map's month view, no other filter) and served as stored (heatmaps.models.PointTile):
# z10-z13 hold the most points; z14 is stored too because its busiest tiles grow with the
# reports (national 10 M, rendered when asked: p95 0.9 -> 3.2 ms from 1 M). A zoom added
# later is served as stored once a full render (refresh_all) has rendered every month at
# it (RefreshState.month_tile_zooms). Empty: every point tile is rendered when asked.
HEATMAP_STORED_POINT_ZOOMS = [
    int(z) for z in os.environ.get("HEATMAP_STORED_POINT_ZOOMS", "10,11,12,13,14").split(",") if z
]
# Point tiles of all time (the map's "all time" view, no other filter) at these zooms are
# stored too. The refresh marks the ones its changes touched, or whose overdue flags went
# stale, as due (no data); the warm-up after the refresh renders them again
# (heatmaps.tiles.render_due_all_time_tiles; after every refresh while some are due, even
# one that changed nothing), and until then they are rendered when asked.
HEATMAP_STORED_ALL_TIME_ZOOMS = [
    int(z) for z in os.environ.get("HEATMAP_STORED_ALL_TIME_ZOOMS", "10,11,12,13,14").split(",") if z
]
# ... except when a refresh leaves at most this many due (the beat's few new reports and
# passed deadlines): it renders them itself, before it commits (0: never).
HEATMAP_ALL_TIME_RENDER_IN_REFRESH = int(os.environ.get("HEATMAP_ALL_TIME_RENDER_IN_REFRESH", 200))
# Finished tiles are cached (Redis, gzipped) per data version for this long (seconds);
# after each roll-up refresh that changed something, at most HEATMAP_TILE_WARM_MAX of the
# busiest tiles of HEATMAP_TILE_WARM_ZOOMS are rendered ahead, for at most
# HEATMAP_TILE_WARM_SECONDS (heatmaps/tile_cache.py).
HEATMAP_TILE_CACHE_SECONDS = int(os.environ.get("HEATMAP_TILE_CACHE_SECONDS", 86400))
HEATMAP_TILE_WARM_MAX = int(os.environ.get("HEATMAP_TILE_WARM_MAX", 400))
HEATMAP_TILE_WARM_SECONDS = float(os.environ.get("HEATMAP_TILE_WARM_SECONDS", 60))
# How long the bins' colour scale of a view is kept (heatmaps.views.bin_scale_view).
HEATMAP_BIN_SCALE_SECONDS = int(os.environ.get("HEATMAP_BIN_SCALE_SECONDS", 900))
HEATMAP_TILE_WARM_ZOOMS = [int(z) for z in os.environ.get("HEATMAP_TILE_WARM_ZOOMS", "10,11,12,13,14").split(",") if z]
# The incremental roll-up refresh leaves changes younger than this (seconds) to the next run.
HEATMAP_REFRESH_LAG_S = int(os.environ.get("HEATMAP_REFRESH_LAG_S", 10))
# The reporter's name, phone and e-mail are cleared this many days after a report closed.
REPORTER_RETENTION_DAYS = int(os.environ.get("GEO_PORTAL_REPORTER_RETENTION_DAYS", 365))
# "celery" (after commit, to the worker), "sync" (in the request), "none".
NOTIFY_DISPATCH = os.environ.get("NOTIFY_DISPATCH", "celery")
# A reminder goes out when a deadline is this close (hours).
REPORT_REMINDER_BEFORE_HOURS = float(os.environ.get("REPORT_REMINDER_BEFORE_HOURS", 4))

# Auth -----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"
# SMS: "console" writes to the log and to SMS_OUTBOX_DIR (development, tests);
# "http" posts to an SMS gateway (SMS_GATEWAY_URL, SMS_GATEWAY_TOKEN).
SMS_BACKEND = os.environ.get("SMS_BACKEND", "geo_portal.accounts.sms.ConsoleSmsBackend")
SMS_OUTBOX_DIR = Path(os.environ.get("SMS_OUTBOX_DIR", BASE_DIR / "var" / "sms-outbox"))
SMS_GATEWAY_URL = os.environ.get("SMS_GATEWAY_URL", "")
SMS_GATEWAY_TOKEN = os.environ.get("SMS_GATEWAY_TOKEN", "")
SMS_GATEWAY_TIMEOUT = float(os.environ.get("SMS_GATEWAY_TIMEOUT", 10))  # seconds
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "mail-outbox"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "geo_portal <no-reply@localhost>")

# I18n -----------------------------------------------------------------------
LANGUAGE_CODE = "vi"
LANGUAGES = [("vi", _("Tiếng Việt")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "geo_portal" / "locale"]
TIME_ZONE = "Asia/Ho_Chi_Minh"
USE_I18N = True
USE_TZ = True

# Static and media -----------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "geo_portal" / "static"]
# Uploaded media are served by reports.views_media (access checked), not as static files.
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("GEO_PORTAL_MEDIA_ROOT", BASE_DIR / "var" / "media"))
# Uploads larger than this go to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
WHITENOISE_USE_FINDERS = True

# API ------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # DRF's own refusals (bad token, media type…) in the portal's language
    "EXCEPTION_HANDLER": "geo_portal.api_errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "geo_portal API",
    "DESCRIPTION": "Citizens' field reports, boundaries and routing.",
    "VERSION": "1",
    # The docs page works offline: Swagger UI from drf-spectacular-sidecar's static files.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "geo_portal.schema.add_error_responses",
    ],
}
# Report submissions per client IP (django-ratelimit, counted in the Redis cache).
# RATELIMIT_ENABLE=0 turns it off (the ingest benchmark).
RATELIMIT_ENABLE = env_bool("RATELIMIT_ENABLE", True)
REPORT_SUBMIT_RATE = os.environ.get("REPORT_SUBMIT_RATE", "20/h")
# Other limits of geo_portal.ratelimit.LIMITS overridden by name: "photo-hint=30/10m,otp-send-ip=10/10m".
RATE_LIMITS = dict(
    pair.split("=", 1) for pair in os.environ.get("RATE_LIMITS", "").split(",") if "=" in pair
)
# An officer may ask to extend a deadline by at most this many working days
# (reports/workflow.py, request_extension).
MAX_EXTENSION_WORKING_DAYS = int(os.environ.get("MAX_EXTENSION_WORKING_DAYS", "30"))
# Date filters (list, map, statistics, exports) accept days in this range; outside it a
# date is a typo or a probe, and past year 9999 it cannot even be computed (400 instead).
FILTER_DATE_MIN = "1900-01-01"
FILTER_DATE_MAX = "2999-12-31"
# Uploads, checked by content in reports/media.py.
REPORT_PHOTO_MAX_BYTES = int(os.environ.get("REPORT_PHOTO_MAX_BYTES", 10 * 1024 * 1024))
REPORT_PHOTO_MAX_COUNT = int(os.environ.get("REPORT_PHOTO_MAX_COUNT", 5))
REPORT_VIDEO_MAX_BYTES = int(os.environ.get("REPORT_VIDEO_MAX_BYTES", 50 * 1024 * 1024))
REPORT_VIDEO_MAX_SECONDS = int(os.environ.get("REPORT_VIDEO_MAX_SECONDS", 120))
# CenterFace's ONNX file for blurring faces on uploads (reports/blur.py; `manage.py fetch_blur_model`)
BLUR_MODEL_PATH = Path(os.environ.get("BLUR_MODEL_PATH", BASE_DIR / "var" / "models" / "centerface.onnx"))
# onnxruntime's threads per process for the detector (0: one per core)
BLUR_THREADS = int(os.environ.get("BLUR_THREADS", 0))
REPORT_IMAGE_MAX_PIXELS = int(os.environ.get("REPORT_IMAGE_MAX_PIXELS", 40_000_000))
# Memory one image's decoding may take (bytes); a costlier photo is refused.
REPORT_IMAGE_DECODE_MAX_BYTES = int(os.environ.get("REPORT_IMAGE_DECODE_MAX_BYTES", 128 * 1024 * 1024))
# Photos one process decodes at once; a request that finds none free within the wait
# (seconds) is answered 503 with Retry-After (reports.media.decode_slot).
REPORT_IMAGE_DECODE_SLOTS = int(os.environ.get("REPORT_IMAGE_DECODE_SLOTS", 2))
REPORT_IMAGE_DECODE_WAIT_S = float(os.environ.get("REPORT_IMAGE_DECODE_WAIT_S", 3))
# A whole submission (5 photos + 1 video + fields) above this is refused with 413
# before its body is read.
REPORT_MAX_REQUEST_BYTES = 5 * REPORT_PHOTO_MAX_BYTES + REPORT_VIDEO_MAX_BYTES + 1024 * 1024

# Platform rules ------------------------------------------------------------
# A pin this close to a commune (in metres) but outside every one snaps to it.
LOCATE_SNAP_TOLERANCE_M = float(os.environ.get("LOCATE_SNAP_TOLERANCE_M", 1000))
# The jurisdiction whose boundary version is "current" for pages and queries
# (BoundaryVersion.objects.current()); imported cities keep their own.
BOUNDARY_JURISDICTION = os.environ.get("BOUNDARY_JURISDICTION", "VN")
# Beyond the snap tolerance but within this (metres): "too far" (a pin at sea off our
# coast) rather than "outside every area we manage".
LOCATE_OUTSIDE_M = float(os.environ.get("LOCATE_OUTSIDE_M", 50_000))
# Process caches of the intake's hot path (seconds; 0 turns one off). Each is cleared at
# once in the process that saves a change; other processes see it within this time.
ROUTING_RULES_CACHE_SECONDS = float(os.environ.get("ROUTING_RULES_CACHE_SECONDS", 30))
CATEGORY_CACHE_SECONDS = float(os.environ.get("CATEGORY_CACHE_SECONDS", 30))
CALENDAR_CACHE_SECONDS = float(os.environ.get("CALENDAR_CACHE_SECONDS", 60))
# Quảng Ninh's rule: the desk forwards within 1 working day; the unit resolves within 5.
DEFAULT_FORWARD_WORKING_DAYS = int(os.environ.get("DEFAULT_FORWARD_WORKING_DAYS", 1))
DEFAULT_RESOLVE_WORKING_DAYS = int(os.environ.get("DEFAULT_RESOLVE_WORKING_DAYS", 5))

SILENCED_SYSTEM_CHECKS = ["gis.W001"]  # Debian 12 ships GDAL 3.6; we open only our own files.

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# Production safety ------------------------------------------------------------
# Nothing here is weaker than Django's defaults; every switch comes from the environment
# (README, Configuration) and `manage.py check --deploy` is clean with them set.
# Schema and asset commands sign nothing and may run without a key (a fresh checkout's
# `manage.py makemigrations --check`); serving, the worker and every other command need one.
_KEYLESS_COMMANDS = {"makemigrations", "migrate", "showmigrations", "sqlmigrate", "collectstatic", "compilemessages",
                     "makemessages", "help", "version"}
_secret_key_file = Path(os.environ.get("SECRET_KEY_FILE") or BASE_DIR / "var" / "secret_key")
SECRET_KEY = os.environ.get("SECRET_KEY", "").strip()
if not SECRET_KEY and _secret_key_file.is_file():
    # Generated once by scripts/setup.sh (mode 600), so `bash scripts/run` just works.
    SECRET_KEY = _secret_key_file.read_text().strip()
_KNOWN_KEYS = ("dev-only-insecure-key-change-me-in-production", "test-only-insecure-key-never-in-production")
if SECRET_KEY in _KNOWN_KEYS and not DEBUG and not os.environ.get("PYTEST_VERSION"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("SECRET_KEY is one of the keys committed in geo_portal/settings.py and DEBUG is off: "
                               "set a secret one (or leave it unset and let `bash scripts/run` generate one).")
if not SECRET_KEY:
    if DEBUG:
        SECRET_KEY = _KNOWN_KEYS[0]
    elif os.environ.get("PYTEST_VERSION"):
        # pytest sets PYTEST_VERSION for its session: tests need no configuration.
        SECRET_KEY = _KNOWN_KEYS[1]
    elif Path(sys.argv[0]).name == "manage.py" and sys.argv[1:2] and sys.argv[1] in _KEYLESS_COMMANDS:
        pass  # left empty: Django itself refuses any use of an empty SECRET_KEY
    else:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "SECRET_KEY is not set and DEBUG is off: refusing to start with a known key. "
            "Set SECRET_KEY (or SECRET_KEY_FILE) in the environment, let `bash scripts/run` "
            f"generate one in {_secret_key_file}, or set DEBUG=1 for development."
        )

# HTTPS. GEO_PORTAL_HTTPS=1 turns on the production values at once (SSL redirect, secure
# cookies, a year of HSTS); each one can still be set on its own.
_https = env_bool("GEO_PORTAL_HTTPS", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", _https)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", _https)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", _https)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS") or (31_536_000 if _https else 0))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", _https)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", _https)
# Behind nginx/a load balancer that terminates TLS and sets X-Forwarded-Proto. Only set
# this when the proxy always overwrites that header (else a client could claim https).
if env_bool("GEO_PORTAL_BEHIND_HTTPS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# /healthz is probed over plain HTTP by load balancers and the benchmarks.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^livez$"]
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"

# The basemap under every map (geo_portal/basemap.py): "xyz:<URL template>" (raster tiles the
# browser fetches; credit them in GEO_PORTAL_BASEMAP_ATTRIBUTION), "pmtiles:<path>" (a vector
# archive under DATA_DIR served by the portal itself) or "none". OpenStreetMap's standard tiles
# by default; the test run draws none unless a test says otherwise (no test reaches the internet).
GEO_PORTAL_BASEMAP = os.environ.get("GEO_PORTAL_BASEMAP") or (
    "none" if os.environ.get("PYTEST_VERSION") else "xyz:https://tile.openstreetmap.org/{z}/{x}/{y}.png"
)
GEO_PORTAL_BASEMAP_ATTRIBUTION = os.environ.get("GEO_PORTAL_BASEMAP_ATTRIBUTION", "")
GEO_PORTAL_BASEMAP_ATTRIBUTION_URL = os.environ.get("GEO_PORTAL_BASEMAP_ATTRIBUTION_URL", "")
# A bad value stops the start with a message naming it (ImproperlyConfigured).
_basemap.parse(
    GEO_PORTAL_BASEMAP, GEO_PORTAL_BASEMAP_ATTRIBUTION, GEO_PORTAL_BASEMAP_ATTRIBUTION_URL, DATA_DIR
)

# Content-Security-Policy (geo_portal.production.SecurityHeadersMiddleware): no inline
# script anywhere; inline style attributes stay allowed (Leaflet and Chart.js set them).
# The raster basemap's host is added to img-src per answer (geo_portal.basemap).
CONTENT_SECURITY_POLICY = os.environ.get("CONTENT_SECURITY_POLICY") or "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "media-src 'self' blob:",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
# Query parameters and headers that make an answer private (Cache-Control: private,
# no-store) like a session or an API token: the reporter's receipt token (reports).
PRIVATE_REQUEST_MARKERS = (("t",), ("X-Receipt-Token",))
# Seconds a client is told to wait (Retry-After) when the database does not answer.
DATABASE_UNAVAILABLE_RETRY_AFTER = int(os.environ.get("DATABASE_UNAVAILABLE_RETRY_AFTER", 15))

# Static files: WhiteNoise with compressed, content-hashed names (far-future caching).
# The test run skips the manifest: a test must not depend on a fresh collectstatic.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if os.environ.get("PYTEST_VERSION") or not env_bool("GEO_PORTAL_STATIC_MANIFEST", True)
        else "geo_portal.storage.ManifestStaticStorage",
    },
}
# Media behind the front server: after the access check, answer with an empty body and
# X-Accel-Redirect: <prefix><path> (nginx "internal" location) or X-Sendfile: <file>
# (Apache mod_xsendfile); unset, the portal streams the file itself.
MEDIA_ACCEL_REDIRECT_PREFIX = os.environ.get("MEDIA_ACCEL_REDIRECT_PREFIX", "")
MEDIA_X_SENDFILE = env_bool("MEDIA_X_SENDFILE", False)
