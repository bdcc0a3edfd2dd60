from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.policies import AgeBand, age_band, age_on


class Region(models.TextChoices):
    """Jurisdiction that selects policy packs (CN default; see POLICY_PACKS)."""
    CN = "CN", _("Mainland China")
    US_CA = "US-CA", _("United States – California")
    US_NY = "US-NY", _("United States – New York")
    EU = "EU", _("European Union")
    OTHER = "OTHER", _("Other")


class Role(models.TextChoices):
    """Roles are Django groups of these names; a user may hold several."""
    USER = "user", _("User")
    GUARDIAN = "guardian", _("Guardian")
    OPERATOR = "operator", _("Operator")
    COMPLIANCE = "compliance", _("Compliance officer")
    REGULATOR = "regulator", _("Regulator")


class User(AbstractUser):
    birth_date = models.DateField(_("date of birth"), null=True, blank=True)
    region = models.CharField(_("region"), max_length=8, choices=Region.choices, default=Region.CN)
    language = models.CharField(_("language"), max_length=10, default="zh-hans")

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    @property
    def age(self) -> int | None:
        if self.birth_date is None:
            return None
        return age_on(self.birth_date, timezone.localdate())

    @property
    def age_band(self) -> AgeBand:
        return age_band(self.age)

    @property
    def is_minor(self) -> bool:
        return self.age_band in (AgeBand.CHILD, AgeBand.MINOR)

    def has_role(self, role: str) -> bool:
        return self.groups.filter(name=role).exists()
