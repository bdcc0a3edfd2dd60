from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GuardiansConfig(AppConfig):
    """Guardian links, consent and the guardian portal (issue: minor mode and guardian portal)."""
    name = "guardians"
    verbose_name = _("Guardians")
