"""Production hardening: secrets and hosts must come from the environment; DEBUG is off."""

from django.core.exceptions import ImproperlyConfigured

from tradelabs_site.env import env_bool, env_list, env_secret

from .base import *  # noqa: F403
from .base import EMBEDDED_SECRET_KEY  # noqa: E402

SECRET_KEY = env_secret("SECRET_KEY")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) must be set in production.")
if SECRET_KEY == EMBEDDED_SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY is the embedded default published in the source: set a secret of your own.")
# Django's own measure of a weak key (security.W009), refused here rather than warned about.
if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure-"):
    raise ImproperlyConfigured(
        "SECRET_KEY is too weak: use at least 50 characters with at least 5 distinct ones "
        "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))')."
    )
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set in production.")
DEBUG = False
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
