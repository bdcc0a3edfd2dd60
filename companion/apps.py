from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CompanionConfig(AppConfig):
    name = "companion"
    verbose_name = _("Companion chat")

    def ready(self):
        from companion import receivers  # noqa: F401  (connects the receivers)
        from companion.selectors import minor_characters
        from guardians import catalogue
        catalogue.register(minor_characters)  # the portal's list of characters to block (CN-MIN-09)
        from companion.assessments import in_force
        from companion.models import SensitiveFeature
        from moderation import remote
        remote.set_gate(lambda: in_force(SensitiveFeature.REMOTE_MODERATION))  # CN-DAT-10
