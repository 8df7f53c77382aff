"""Trade Labs settings: the embedded default (SIM + SQLite), tuned by environment variables.

Everything a deployment may change is read here through the typed helpers in
`tradelabs_site.env`; production hardening lives in `production.py`.
"""

import os
from pathlib import Path

import dj_database_url

from tradelabs_site.env import (
    env_bool,
    env_decimal,
    env_int,
    env_list,
    env_secret,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DATA_DIR = Path(env_str("TRADE_LABS_DATA_DIR", str(BASE_DIR / "data"))).resolve()
# The data directory holds the SQLite book (API tokens included), logs and reports: only this
# user may read it. The umask makes every file and folder this process creates private
# (0600/0700) -- SQLite's -wal and -shm, rotated logs, reports -- with no chmod at each writer.
os.umask(0o077)
DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)

EMBEDDED_SECRET_KEY = "insecure-embedded-default-change-me-for-any-shared-deployment"
SECRET_KEY = env_secret("SECRET_KEY", EMBEDDED_SECRET_KEY)
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

INSTALLED_APPS = [
    "tradelabs_site.apps.TradeLabsAdminConfig",  # django.contrib.admin with our site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles: runserver leaves static files to WhiteNoise, as a production server does.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "trading.apps.TradingConfig",
    "trading.sim.apps.SimConfig",
    "trading.schedule.apps.ScheduleConfig",
    "reporting.apps.ReportingConfig",
    "reconciliation.apps.ReconciliationConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files (the admin's CSS and JS, the API docs' swagger-ui and redoc) served by the app
    # itself, DEBUG on or off, under runserver or gunicorn: no separate web server to configure.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "tradelabs_site.urls"
WSGI_APPLICATION = "tradelabs_site.wsgi.application"
ASGI_APPLICATION = "tradelabs_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "tradelabs_site" / "templates"],
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


def _database_from_env() -> dict:
    """PostgreSQL (or any URL) from DATABASE_URL; otherwise the embedded SQLite file in WAL mode.

    SQLite uses IMMEDIATE transactions so two writers queue on the lock at BEGIN
    instead of failing later with "database is locked" on upgrade.
    """
    url = env_str("DATABASE_URL")
    if url:
        config = dj_database_url.parse(url, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0))
        config.setdefault("TEST", {})
        return config
    timeout = env_int("TRADE_LABS_SQLITE_TIMEOUT", 20)
    return {
        "ENGINE": "tradelabs_site.sqlite3",
        "NAME": env_str("TRADE_LABS_SQLITE_PATH", str(DATA_DIR / "tradelabs.sqlite3")),
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            # Python's sqlite3 keeps 128 prepared statements by default; a trading session runs
            # about 300 distinct ones (a replayed month: 315), so most were parsed and planned again.
            "cached_statements": 1024,
            "timeout": timeout,
            "init_command": (
                "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA foreign_keys=ON;"
                f"PRAGMA busy_timeout={timeout * 1000};"
            ),
        },
    }


DATABASES = {"default": _database_from_env()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
USE_I18N = True
# Stored in UTC; shown in the exchange's zone.
USE_TZ = True
TIME_ZONE = "America/New_York"
TRADE_LABS_EXCHANGE_TZ = "America/New_York"

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "tradelabs_site" / "static"]  # the site's own: its favicon
# WhiteNoise finds the files where the apps keep them, so nothing has to be collected first
# (`make run`, then `runserver`, shows a styled admin). `collectstatic` still works for a
# deployment that wants the files in one place.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns at every start when it is missing

# ---------------------------------------------------------------------------
# Safety. PAPER is the only mode Trade Labs accepts; ARMED must be 1 before any
# order can reach a real broker.
# ---------------------------------------------------------------------------
# Normalised once here (" paper\n" reads PAPER), so every reader and every stored run sees one
# spelling; anything but PAPER is refused by a system check and before any run is recorded.
TRADE_LABS_MODE = env_str("TRADE_LABS_MODE", "PAPER").strip().upper()
TRADE_LABS_ARMED = env_bool("TRADE_LABS_ARMED", False)
TRADE_LABS_EXECUTION_BACKEND = env_str("TRADE_LABS_EXECUTION_BACKEND", "SIM").strip().lower()

BROKERS = {
    "sim": {
        "BACKEND": "trading.brokers.sim.SimBroker",
        "OPTIONS": {
            "seed": env_int("TRADE_LABS_SIM_SEED", 20240101),
            "universe_size": env_int("TRADE_LABS_SIM_UNIVERSE", 500),
            "account": env_str("TRADE_LABS_SIM_ACCOUNT", "SIM-PAPER-1"),
            "starting_cash": env_str("TRADE_LABS_SIM_STARTING_CASH", "100000.00"),
            "slippage_bps": env_str("TRADE_LABS_SIM_SLIPPAGE_BPS", "2"),
        },
    },
    "ib": {
        "BACKEND": "trading.brokers.ib.IBBroker",
        "OPTIONS": {
            "host": env_str("TRADE_LABS_IB_HOST", "127.0.0.1"),
            "port": env_int("TRADE_LABS_IB_PORT", 4002),
            "client_id": env_int("TRADE_LABS_IB_CLIENT_ID", 17),
            "account": env_str("TRADE_LABS_IB_ACCOUNT", ""),
            "timeout": env_int("TRADE_LABS_IB_TIMEOUT", 10),
        },
    },
}
if TRADE_LABS_EXECUTION_BACKEND not in BROKERS:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f"TRADE_LABS_EXECUTION_BACKEND={TRADE_LABS_EXECUTION_BACKEND!r}: choose one of "
        + ", ".join(sorted(name.upper() for name in BROKERS))
    )
BROKERS["default"] = BROKERS[TRADE_LABS_EXECUTION_BACKEND]

# IB-style commissions, used by the SIM broker and by local dry-run fills.
TRADE_LABS_COMMISSION = {
    "per_share": "0.005",
    "minimum": "1.00",
    "maximum_pct_of_value": "0.01",
    # Regulatory pass-through fees on sales, off by default (IB's fixed pricing includes them
    # on paper accounts only in part). Rates change: SEC fee advisories (sec.gov, "Section 31")
    # and FINRA's By-Laws Schedule A; add a dated row when they do.
    "regulatory_fees": env_bool("TRADE_LABS_REGULATORY_FEES", False),
    "sec_fee_per_million": [("2024-05-22", "27.80"), ("2025-05-14", "0.00")],
    "finra_taf_per_share": "0.000166",
    "finra_taf_max": "8.30",
}

TRADE_LABS_SCANNER = {
    "scan_code": env_str("TRADE_LABS_SCAN_CODE", "TOP_PERC_GAIN"),
    "location": "STK.US.MAJOR",
    "above_price": env_str("TRADE_LABS_SCAN_ABOVE_PRICE", "5"),
    "above_volume": env_int("TRADE_LABS_SCAN_ABOVE_VOLUME", 100_000),
    "max_results": env_int("TRADE_LABS_SCAN_MAX_RESULTS", 50),
}

# Score = price level + spread quality + rank decay, each capped by its weight (sum 100).
TRADE_LABS_SCORING = {
    "weights": {"price": "30", "spread": "40", "rank": "30"},
    # Prices inside the sweet band score full marks; outside, marks fall linearly to zero at the hard limits.
    "price_bands": {"hard_min": "1", "sweet_min": "10", "sweet_max": "200", "hard_max": "1000"},
    # Spread in basis points of the mid: full marks at or below `best`, zero at or above `worst`.
    "spread_bps": {"best": "5", "worst": "100"},
    # Each scanner rank keeps this fraction of the previous rank's marks.
    "rank_decay": "0.93",
    "max_quote_age_seconds": 120,
}

TRADE_LABS_RISK = {
    "top_n": env_int("TRADE_LABS_TOP_N", 5),
    "min_score": env_str("TRADE_LABS_MIN_SCORE", "50"),
    # "notional": qty = notional / entry; "risk": qty = risk_per_trade / (entry - stop).
    "sizing": env_str("TRADE_LABS_SIZING", "notional"),
    "notional_per_trade": env_str("TRADE_LABS_NOTIONAL_PER_TRADE", "5000"),
    "risk_per_trade": env_str("TRADE_LABS_RISK_PER_TRADE", "100"),
    "stop_pct": env_str("TRADE_LABS_STOP_PCT", "2"),
    "target_pct": env_str("TRADE_LABS_TARGET_PCT", "4"),
    "max_open_positions": env_int("TRADE_LABS_MAX_OPEN_POSITIONS", 10),
    "max_order_notional": env_str("TRADE_LABS_MAX_ORDER_NOTIONAL", "10000"),
    "max_gross_exposure": env_str("TRADE_LABS_MAX_GROSS_EXPOSURE", "50000"),
    "daily_loss_limit": env_str("TRADE_LABS_DAILY_LOSS_LIMIT", "1000"),
    # 0 keeps brackets working overnight; N > 0 makes `mark` close open trades at market
    # in the session's last N minutes (exit reason: end of day).
    "flatten_minutes_before_close": env_int("TRADE_LABS_FLATTEN_MINUTES_BEFORE_CLOSE", 0),
}

# The trading day, New York time, NYSE sessions only (see trading.schedule).
TRADE_LABS_SCHEDULE = {
    "opening_scan": env_str("TRADE_LABS_SCHEDULE_OPENING_SCAN", "09:30"),
    "midday_scan": env_str("TRADE_LABS_SCHEDULE_MIDDAY_SCAN", "12:00"),
    "reconcile": env_str("TRADE_LABS_SCHEDULE_RECONCILE", "16:00"),
    "report": env_str("TRADE_LABS_SCHEDULE_REPORT", "17:00"),
    "mark_every_minutes": env_int("TRADE_LABS_SCHEDULE_MARK_EVERY_MINUTES", 5),
    # A scan that would start later than this after its slot is skipped and recorded as missed.
    "scan_grace_minutes": env_int("TRADE_LABS_SCHEDULE_SCAN_GRACE_MINUTES", 10),
    # Each scan's pre-flight checks the book's broker this many minutes before it (alerts when down).
    "preflight_minutes": env_int("TRADE_LABS_SCHEDULE_PREFLIGHT_MINUTES", 5),
}

TRADE_LABS_RECONCILIATION = {
    # Average cost may differ by this % before it is flagged (fills at different prices, commissions).
    "average_cost_tolerance_pct": env_str("TRADE_LABS_RECON_AVG_COST_TOLERANCE_PCT", "0.5"),
}

TRADE_LABS_REPORTS_DIR = Path(env_str("TRADE_LABS_REPORTS_DIR", str(DATA_DIR / "reports")))

# A run that stops renewing its lease for this long is treated as dead (crashed process).
TRADE_LABS_RUN_LEASE_SECONDS = env_int("TRADE_LABS_RUN_LEASE_SECONDS", 300)
TRADE_LABS_STARTING_EQUITY = env_decimal("TRADE_LABS_STARTING_EQUITY", "100000")

# ---------------------------------------------------------------------------
# Logging: JSON lines to a file, readable lines on the console, both through structlog.
# ---------------------------------------------------------------------------
TRADE_LABS_LOG_FILE = env_str("TRADE_LABS_LOG_FILE", str(DATA_DIR / "logs" / "tradelabs.jsonl"))
TRADE_LABS_LOG_LEVEL = env_str("TRADE_LABS_LOG_LEVEL", "INFO")
# The JSON log rotates at this size, keeping this many old files: a year of lines cannot fill the disk.
TRADE_LABS_LOG_MAX_BYTES = env_int("TRADE_LABS_LOG_MAX_BYTES", 50 * 1024 * 1024)
TRADE_LABS_LOG_BACKUPS = env_int("TRADE_LABS_LOG_BACKUPS", 10)

# ---------------------------------------------------------------------------
# Alerts (trading.alerts): apprise URLs, separated by spaces (an apprise URL may hold commas),
# e.g. "mailto://user:pass@example.com json://hooks.example.com/tl tgram://bot/chat"; and plain
# email through Django's mail settings to TRADE_LABS_ALERT_EMAILS.
# ---------------------------------------------------------------------------
TRADE_LABS_ALERT_URLS = env_str("TRADE_LABS_ALERT_URLS", "").split()
TRADE_LABS_ALERT_EMAILS = env_list("TRADE_LABS_ALERT_EMAILS")
TRADE_LABS_ALERT_REPEAT_MINUTES = env_int("TRADE_LABS_ALERT_REPEAT_MINUTES", 60)  # the same alert again only after this
TRADE_LABS_ALERT_DAILY_REPORT = env_bool("TRADE_LABS_ALERT_DAILY_REPORT", False)  # opt-in: "report ready"
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD", "") or ""
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "trade-labs@localhost")
LOGGING_CONFIG = None  # configured in TradingConfig.ready() by tradelabs_site.logging

# ---------------------------------------------------------------------------
# Django REST framework
# ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: an anonymous request is answered 401 with `WWW-Authenticate: Token` (HTTP's
    # challenge), not a bare 403. Sessions still work for the browsable API, with CSRF.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["reporting.api.permissions.ModelPermissionsWithReads"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Trade Labs API",
    "DESCRIPTION": "Exports of the Trade Labs book of record (reading a model needs its view permission); "
    "users with trading.change_trade may annotate trades.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # swagger-ui and redoc from the installed sidecar package, served locally: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "reporting.api.schema.document_error_responses",
    ],
}

# ---------------------------------------------------------------------------
# django-q2: ORM broker on the same database by default; Redis when REDIS_URL is set.
# ---------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
Q_CLUSTER = {
    "name": "tradelabs",
    "workers": env_int("TRADE_LABS_Q_WORKERS", 2),
    # A job that runs longer than `timeout` is killed; `retry` must exceed it so a slow job
    # is never handed to a second worker while the first still runs.
    "timeout": env_int("TRADE_LABS_Q_TIMEOUT", 600),
    "retry": env_int("TRADE_LABS_Q_RETRY", 900),
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 1000,
    "label": "Django Q2",
    "orm": "default",
}
if REDIS_URL:
    Q_CLUSTER.pop("orm")
    Q_CLUSTER["redis"] = REDIS_URL
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
