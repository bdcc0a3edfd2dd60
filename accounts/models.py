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


class AuditEvent(models.Model):
    """One row of the append-only, hash-chained audit log (BX-11, CN-DAT-02, CN-GOV-06).

    Rows hold ids, codes and the client address, never text a person wrote, so deleting an account
    (CN-DAT-05) leaves only pseudonymous numbers here and the chain intact. `actor_id` is a number,
    not a foreign key, for the same reason. Written only by `accounts.audit.record`; the database
    refuses updates (and, on PostgreSQL, deletes inside the retention period). See docs/audit.md.
    """

    created_at = models.DateTimeField(_("time"), db_index=True)
    action = models.CharField(_("action"), max_length=64, db_index=True)
    actor_id = models.BigIntegerField(_("actor"), null=True, blank=True, db_index=True)
    subject_type = models.CharField(_("subject type"), max_length=32, blank=True)
    subject_id = models.CharField(_("subject"), max_length=64, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    key_id = models.CharField(max_length=16)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [models.Index(fields=["subject_type", "subject_id"], name="audit_subject_idx")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action}"
