"""Django settings for WattDesk.

Everything that differs between machines comes from the environment, with safe defaults:

    WATTDESK_DATABASE_URL   sqlite:////abs/path.db or postgresql://user:pw@host:port/db
                            (unset -> embedded SQLite file <data dir>/wattdesk.db)
    WATTDESK_DATA_DIR       where WattDesk keeps its files (SQLite db, Parquet interval files, secret key)
                            (unset -> platformdirs.user_data_dir("wattdesk"))
    WATTDESK_DEBUG          1/true/yes/on -> Django DEBUG (default off)
    WATTDESK_SECRET_KEY     signing key; unset -> a fixed dev key when DEBUG, otherwise a random key
                            generated once and kept in <data dir>/secret_key (mode 0600)
    WATTDESK_ALLOWED_HOSTS  comma separated (default: localhost,127.0.0.1,[::1])
    WATTDESK_HTTPS          1 when served over HTTPS: secure cookies, SSL redirect, HSTS (default off)
    WATTDESK_DB_CONN_MAX_AGE seconds a PostgreSQL connection is kept (default 60)
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from platformdirs import user_data_dir

BASE_DIR = Path(__file__).resolve().parent


def _env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def _env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


# --- data directory -------------------------------------------------------------------------------------
WATTDESK_DATA_DIR = Path(os.environ.get("WATTDESK_DATA_DIR") or user_data_dir("wattdesk")).expanduser()
WATTDESK_DATA_DIR.mkdir(parents=True, exist_ok=True)
#: Parquet interval files (metering.IntervalFile.path is relative to this directory).
WATTDESK_INTERVAL_DIR = WATTDESK_DATA_DIR / "intervals"

# --- bill document (printed bill / PDF): issuer header and payment channels, per deployment ---------------
WATTDESK_BILL_ISSUER = os.environ.get("WATTDESK_BILL_ISSUER", "").strip() or "WattDesk 示范供电公司"
WATTDESK_BILL_HOTLINE = os.environ.get("WATTDESK_BILL_HOTLINE", "").strip() or "95598"
#: 缴费渠道, separated by ';' in the environment variable
WATTDESK_BILL_PAYMENT_CHANNELS = [
    c.strip() for c in os.environ.get("WATTDESK_BILL_PAYMENT_CHANNELS", "").split(";") if c.strip()
] or ["供电营业厅柜台", "网上国网 App", "银行代扣", "微信 / 支付宝生活缴费"]

# --- security -------------------------------------------------------------------------------------------
DEBUG = _env_bool("WATTDESK_DEBUG", default=False)


def _secret_key() -> str:
    from_env = os.environ.get("WATTDESK_SECRET_KEY", "").strip()
    if from_env:
        return from_env
    if DEBUG:
        return "django-insecure-wattdesk-development-only-never-use-in-production"
    # Not DEBUG and no key given: use a random key generated once for this installation. Never a constant.
    key_file = WATTDESK_DATA_DIR / "secret_key"
    try:
        return key_file.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        key = secrets.token_urlsafe(50)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(key)
        return key
    except FileExistsError:  # pragma: no cover - lost a race with another process
        return key_file.read_text(encoding="ascii").strip()


SECRET_KEY = _secret_key()
#: Mobile / online payment gateway (docs/payments-gateway.md): the HMAC-SHA256 secret shared with the gateway
#: (WATTDESK_GATEWAY_SECRET; a fixed dev secret only when DEBUG, otherwise empty = callbacks refused) and the
#: gateway's pay page the portal redirects to (WATTDESK_GATEWAY_PAY_URL; the sandbox: `wattdesk sandbox gateway`).
DEV_GATEWAY_SECRET = "wattdesk-sandbox-gateway-dev-secret"  # == core.gateway_signing.DEV_SECRET
WATTDESK_GATEWAY_SECRET = os.environ.get("WATTDESK_GATEWAY_SECRET", "").strip() or (
    DEV_GATEWAY_SECRET if DEBUG else ""
)
WATTDESK_GATEWAY_PAY_URL = (
    os.environ.get("WATTDESK_GATEWAY_PAY_URL", "").strip() or "http://127.0.0.1:8700/pay"
)
ALLOWED_HOSTS = _env_list("WATTDESK_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = _env_list("WATTDESK_CSRF_TRUSTED_ORIGINS", [])
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# CSRF_COOKIE_HTTPONLY stays False: HTMX sends the token from the template (hx-headers), not from the cookie.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy (self only) and Permissions-Policy: wattdesk.interfaces.web.security.
#: Served over HTTPS (usually behind a reverse proxy that sets X-Forwarded-Proto): secure cookies, HSTS.
WATTDESK_HTTPS = _env_bool("WATTDESK_HTTPS", default=False)
if WATTDESK_HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("WATTDESK_HSTS_SECONDS", "31536000"))

# --- applications ---------------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # domain apps, in the order of the flow readings -> bills -> ledger
    "wattdesk.domain.customers",
    "wattdesk.domain.metering",
    "wattdesk.domain.tariffs",
    "wattdesk.domain.billing",
    "wattdesk.domain.ledger",
    "wattdesk.domain.outlets",
    "wattdesk.domain.payments",
    "wattdesk.domain.fee_control",
    "wattdesk.domain.dunning",
    "wattdesk.domain.collection",
    "wattdesk.domain.counter",
    "wattdesk.domain.bank",
    "wattdesk.domain.gateway",
    "wattdesk.domain.inspection",
    "wattdesk.domain.changes",
    "wattdesk.domain.simulation",
    "wattdesk.domain.access",
    # audit trail (django-auditlog; what is audited: wattdesk.domain.audit) and login lockout (django-axes)
    "auditlog",
    "wattdesk.domain.auditing",
    "axes",
    # task queue (Django's tasks framework, backport): jobs stored in the database, run by `wattdesk worker`
    "django_tasks",
    "django_tasks_db",
    # interfaces
    "django_htmx",
    "wattdesk.interfaces.web",
    "ninja",  # serves Swagger UI for /api/docs from its own static files (no CDN)
    "wattdesk.interfaces.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "wattdesk.interfaces.web.security.SecurityHeadersMiddleware",
    # static files with DEBUG off (`wattdesk serve` runs collectstatic into STATIC_ROOT)
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # a NUL in the path, the query or a form field is a 400: PostgreSQL refuses NUL in text (it was a 500).
    # After the session, locale and user middleware: the translated 400 page needs them.
    "wattdesk.interfaces.web.input_guard.RefuseNulMiddleware",
    # audit entries get the logged-in actor and the client address (after AuthenticationMiddleware)
    "wattdesk.domain.auditing.middleware.AuditMiddleware",
    # deny by default: every page needs a login (unless marked public) and a declared capability
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "wattdesk.interfaces.web.access.CapabilityMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # login lockout (django-axes): last, so it sees the failed logins of every view
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "wattdesk.urls"
WSGI_APPLICATION = "wattdesk.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "wattdesk.interfaces.web.context_processors.shell",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------------------
#: PRAGMAs run on every new SQLite connection: WAL lets readers work while a billing run writes;
#: synchronous=NORMAL is durable across application crashes in WAL mode and much faster for bulk imports.
SQLITE_INIT_COMMAND = (
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "PRAGMA foreign_keys=ON;"
    "PRAGMA busy_timeout=20000;"
    "PRAGMA temp_store=MEMORY;"
    "PRAGMA cache_size=-65536;"
)


def _database_config() -> dict[str, Any]:
    url = os.environ.get("WATTDESK_DATABASE_URL", "").strip()
    if not url:
        url = "sqlite:///" + str(WATTDESK_DATA_DIR / "wattdesk.db")
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url))
    except ValueError as exc:
        raise ImproperlyConfigured(f"WATTDESK_DATABASE_URL is not a database URL: {exc}") from exc
    engine = config.get("ENGINE", "")
    options: dict[str, Any] = dict(config.get("OPTIONS") or {})
    if engine == "django.db.backends.sqlite3":
        options.setdefault("init_command", SQLITE_INIT_COMMAND)
        # Take the write lock at BEGIN: no "database is locked" upgrade failures between concurrent writers.
        options.setdefault("transaction_mode", "IMMEDIATE")
        options.setdefault("timeout", 20)
    elif engine == "django.db.backends.postgresql":
        config["CONN_MAX_AGE"] = int(os.environ.get("WATTDESK_DB_CONN_MAX_AGE", "60"))
        config["CONN_HEALTH_CHECKS"] = True
    else:
        raise ImproperlyConfigured(
            f"WATTDESK_DATABASE_URL: unsupported database engine {engine!r} (use sqlite:// or postgresql://)"
        )
    config["OPTIONS"] = options
    return config


DATABASES = {"default": _database_config()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- task queue -----------------------------------------------------------------------------------------
#: Long work (billing runs launched from a page or the API, outlet-planning solves, the nightly pass) is a
#: task in the database (django-tasks-db: the same tables on SQLite and PostgreSQL), run by `wattdesk worker`
#: (`wattdesk serve` starts one). No broker to install; any number of workers on any number of hosts.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
#: A billing run writes a heartbeat every WATTDESK_BILLING_HEARTBEAT_SECONDS while its process lives; a live
#: run whose heartbeat is older than WATTDESK_BILLING_STALL_SECONDS is shown as stalled (its process died)
#: and can be resumed or restarted.
WATTDESK_BILLING_HEARTBEAT_SECONDS = float(os.environ.get("WATTDESK_BILLING_HEARTBEAT_SECONDS", "10"))
WATTDESK_BILLING_STALL_SECONDS = float(os.environ.get("WATTDESK_BILLING_STALL_SECONDS", "120"))
#: A reading file larger than this (bytes) uploaded on the readings page, and an audit export of more entries
#: than this, are done by a queued task (polled on the page) instead of inside the request.
WATTDESK_QUEUE_IMPORT_BYTES = int(os.environ.get("WATTDESK_QUEUE_IMPORT_BYTES", str(1024 * 1024)))
WATTDESK_QUEUE_EXPORT_ROWS = int(os.environ.get("WATTDESK_QUEUE_EXPORT_ROWS", "20000"))

# --- auth -----------------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: a username locked out from an address is refused before the password is checked.
AUTHENTICATION_BACKENDS = [
    "wattdesk.interfaces.web.security.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("WATTDESK_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("WATTDESK_LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "web/lockout.html"
# Behind a reverse proxy (WATTDESK_HTTPS) the client address is the one the proxy appended.
AXES_IPWARE_PROXY_COUNT = 1 if WATTDESK_HTTPS else None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if WATTDESK_HTTPS else ["REMOTE_ADDR"]
)
# Audit trail: JSON before/after values (a tariff document diffs leaf by leaf on the audit page).
AUDITLOG_STORE_JSON_CHANGES = True

# --- i18n: the staff UI speaks Simplified Chinese by default, English available ---------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
#: Gettext catalogs shipped inside the package (zh_Hans translates the English model/choice msgids, en the
#: Chinese page msgids); see docs/i18n.md.
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"

# --- notifications (dunning outbox: wattdesk.adapters.notify) ---------------------------------------------
EMAIL_HOST = os.environ.get("WATTDESK_SMTP_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("WATTDESK_SMTP_PORT", "25"))
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = os.environ.get("WATTDESK_MAIL_FROM", "wattdesk@localhost")
USE_TZ = True

# --- static files ---------------------------------------------------------------------------------------
STATIC_URL = "static/"
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"
STATIC_ROOT = WATTDESK_DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Front-end libraries are committed, built, in the web app's static/vendor/ (no Node needed) and served by WattDesk
# itself: `{% static 'vendor/echarts/echarts.min.js' %}`. `make vendor-refresh` re-copies them from npm.

# --- logging: warnings and above to stderr; the CLI prints its own results ---------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("WATTDESK_LOG_LEVEL", "WARNING")},
}
