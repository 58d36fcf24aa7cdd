"""Developer laptop and ``make run``: debug on, an explicit throwaway secret."""

from govboard.settings.base import *  # noqa: F403
from govboard.settings.env import env_str

DEBUG = True
# Local only; production refuses to start without SECRET_KEY (see production.py).
SECRET_KEY = env_str("SECRET_KEY", "local-development-only-not-a-secret")
# ``make run`` prints notification emails to the console instead of sending them.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
