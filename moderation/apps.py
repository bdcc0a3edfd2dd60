from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ModerationConfig(AppConfig):
    """Screening pipeline, cases and the operator console (issue: risk screening and takeover)."""
    name = "moderation"
    verbose_name = _("Moderation")
