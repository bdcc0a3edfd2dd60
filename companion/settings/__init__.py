"""Settings package: `base` is the embedded default, `production` hardens it.

DJANGO_SETTINGS_MODULE=companion.settings picks `production` when DJANGO_ENV=production.
"""
import os

if os.environ.get("DJANGO_ENV") == "production":
    from .production import *  # noqa: F401,F403
else:
    from .base import *  # noqa: F401,F403
