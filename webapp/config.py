"""Configuration from environment variables, with safe development defaults."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

MB = 1024 * 1024


class ConfigError(RuntimeError):
    """The app is configured in a way that must not run."""


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    return default if raw is None else raw.strip().lower() in ("1", "true", "yes", "on")


def _dev_secret_key(instance_path: str) -> str:
    """A development key kept in the instance folder, so sessions survive restarts."""
    path = Path(instance_path) / "dev-secret-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


# Where `flask run` serves by default: the address of links made outside a request when PUBLIC_BASE_URL is unset.
DEVELOPMENT_ADDRESS = "http://127.0.0.1:5000"


def from_environment(instance_path: str) -> dict:
    """Build the app's configuration from the process environment."""
    env = os.environ.get("APP_ENV", "development").strip().lower()
    is_production = env == "production"
    secret_key = os.environ.get("SECRET_KEY")
    if not secret_key:
        if is_production:
            raise ConfigError(
                "SECRET_KEY is not set. In production set SECRET_KEY to a long random value "
                "(for example: python -c 'import secrets; print(secrets.token_hex(32))')."
            )
        secret_key = _dev_secret_key(instance_path)
    elif is_production and len(secret_key) < 32:
        raise ConfigError("SECRET_KEY is too short for production: use at least 32 random characters.")
    sms_backend = os.environ.get("SMS_BACKEND", "console")
    if is_production and sms_backend != "twilio":
        raise ConfigError(
            f"SMS_BACKEND={sms_backend!r} is for development only (the console backend prints codes into the log). "
            "In production set SMS_BACKEND=twilio with TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM."
        )
    public_base_url = (os.environ.get("PUBLIC_BASE_URL") or "").strip()
    if is_production and not public_base_url:
        raise ConfigError(
            "PUBLIC_BASE_URL is not set. In production set PUBLIC_BASE_URL to the address parents open "
            "(for example https://xueji.example.cn): it is printed on slips and sheets and sent in SMS links."
        )
    return {
        "APP_ENV": env,
        "SECRET_KEY": secret_key,
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{Path(instance_path) / 'confirm.sqlite3'}"),
        "STORAGE_URL": os.environ.get("STORAGE_URL", f"file://{Path(instance_path) / 'storage'}"),
        "S3_ENDPOINT_URL": os.environ.get("S3_ENDPOINT_URL") or None,
        "S3_REGION": os.environ.get("S3_REGION") or None,
        "S3_ACCESS_KEY_ID": os.environ.get("S3_ACCESS_KEY_ID") or None,
        "S3_SECRET_ACCESS_KEY": os.environ.get("S3_SECRET_ACCESS_KEY") or None,
        "S3_PATH_STYLE": _bool("S3_PATH_STYLE", True),
        "SMS_BACKEND": sms_backend,
        # Number of reverse proxies in front of the app whose X-Forwarded-* headers are trusted (0: none).
        "PROXY_COUNT": int(os.environ.get("PROXY_COUNT", "0")),
        "TWILIO_ACCOUNT_SID": os.environ.get("TWILIO_ACCOUNT_SID"),
        "TWILIO_AUTH_TOKEN": os.environ.get("TWILIO_AUTH_TOKEN"),
        "TWILIO_FROM": os.environ.get("TWILIO_FROM"),
        # Seconds for one request to Twilio (connect and read); the sender never waits longer for one message.
        "TWILIO_TIMEOUT": float(os.environ.get("TWILIO_TIMEOUT", "5")),
        # Send Twilio's API requests to this address instead (an HTTP gateway); unset: Twilio itself.
        "TWILIO_API_URL": os.environ.get("TWILIO_API_URL") or None,
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_UPLOAD_MB", "15")) * MB,
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", is_production),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", is_production),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "PERMANENT_SESSION_LIFETIME": 12 * 3600,  # the session cookie's life; the server ends sessions sooner
        "SESSION_PERMANENT": True,
        "WTF_CSRF_TIME_LIMIT": 8 * 3600,
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        # Unset in development: the address each request came to (make run PORT=5111 → http://127.0.0.1:5111);
        # see webapp.shared.links.public_base_url. Production refuses to start without it (above).
        "PUBLIC_BASE_URL": public_base_url,
        # Background jobs (reminders, batch photo matching) go to RQ on this Redis; unset: run in the request.
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        "REDIS_CONNECT_TIMEOUT": float(os.environ.get("REDIS_CONNECT_TIMEOUT", "0.5")),
        "REDIS_TIMEOUT": float(os.environ.get("REDIS_TIMEOUT", "1")),
        # The longest one SQL statement (or a wait for a lock) may take, in seconds, inside a page's 3 s budget;
        # 0: no limit (e.g. for one heavy command run by hand).
        "DATABASE_STATEMENT_TIMEOUT": float(os.environ.get("DATABASE_STATEMENT_TIMEOUT", "2.5")),
        # After two failures in a row a service (storage, database, Redis, Twilio) is not asked again for this many
        # seconds: the requests meanwhile get the app's own answer at once; then one request tries it again.
        "BREAKER_COOL_OFF": float(os.environ.get("BREAKER_COOL_OFF_SECONDS", "5")),
        # The longest a background job may run before the worker stops it (seconds).
        "JOB_TIMEOUT": int(os.environ.get("JOB_TIMEOUT", "600")),
        # … except an electronic archive, which draws one PDF per student: a school of 5,000 takes a while.
        "ARCHIVE_JOB_TIMEOUT": int(os.environ.get("ARCHIVE_JOB_TIMEOUT", "14400")),
        # Reminders and invitations: at most this many SMS per school per day (Asia/Shanghai), and the wait before
        # retrying a message the provider refused for the moment (429, 5xx); doubled per try, 3 tries.
        "SMS_DAILY_BUDGET_PER_SCHOOL": int(os.environ.get("SMS_DAILY_BUDGET_PER_SCHOOL", "500")),
        "SMS_RETRY_BACKOFF_SECONDS": float(os.environ.get("SMS_RETRY_BACKOFF_SECONDS", "30")),
        # A TrueType/OpenType CJK font for the printed sheets (default: WenQuanYi Zen Hei from fonts-wqy-zenhei).
        "SHEET_FONT": os.environ.get("SHEET_FONT") or None,
        # ``flask retention`` (docs/deployment.md §11): days after a campaign closed and its export was taken before
        # its proof photos are deleted; days after they expired before SMS codes, used or revoked registration
        # codes, sessions, rate counters and repeat guards are deleted.
        "RETENTION_PROOF_DAYS": int(os.environ.get("RETENTION_PROOF_DAYS", "30")),
        "RETENTION_EXPIRED_DAYS": int(os.environ.get("RETENTION_EXPIRED_DAYS", "7")),
    }
