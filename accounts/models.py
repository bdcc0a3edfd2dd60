from django.conf import settings
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
    # CN-REG-04: the mobile number the person proved they hold (E.164), set only by
    # accounts.identity.verify_phone_code; a number waiting for its code lives on PhoneCode. Blank for
    # staff, who verify by TOTP, and for accounts from before this check.
    phone = models.CharField(_("mobile number"), max_length=16, blank=True)
    phone_verified_at = models.DateTimeField(_("mobile number verified at"), null=True, blank=True)
    # CN-REG-02, CN-REG-05: the band the daily job last saw, so a birthday that moves someone
    # between bands is recorded once (accounts.identity.recompute_age_bands). The live band is
    # always `age_band`, from the birth date.
    age_band_recorded = models.CharField(_("age band last recorded"), max_length=8, blank=True)
    # CN-REG-03: an adult may skip naming an emergency contact only by choosing to; asked again
    # GUARDIANS_CONTACT_PROMPT_DAYS after this.
    contact_prompt_skipped_at = models.DateTimeField(_("emergency contact skipped at"), null=True, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            # One account per verified number: the number is the real-identity anchor (CN-REG-04).
            models.UniqueConstraint(fields=["phone"], condition=~models.Q(phone=""), name="user_phone_unique"),
        ]

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


class ConsentPurpose(models.TextChoices):
    """CN-DAT-07: one consent per purpose. Terms and privacy are the service agreement (CN-REG-01);
    `sensitive` is the separate consent for emotional and mental-health content (PIPL art. 29);
    `training` is the separate, optional opt-in for model training (CN-DAT-06), off by default."""
    TERMS = "terms", _("Terms of service")
    PRIVACY = "privacy", _("Privacy policy")
    SENSITIVE = "sensitive", _("Processing of sensitive personal information")
    TRAINING = "training", _("Use of my chats to improve the models")


class Consent(models.Model):
    """The consent ledger: one row per decision (given or withdrawn), never edited, so the history
    of what a person agreed to, which version and when, is kept (CN-DAT-07, CN-REG-01)."""
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consents")
    purpose = models.CharField(_("purpose"), max_length=12, choices=ConsentPurpose.choices)
    version = models.CharField(_("version"), max_length=20)
    granted = models.BooleanField(_("given"))
    at = models.DateTimeField(_("time"), default=timezone.now)
    source = models.CharField(max_length=16)  # "signup", "privacy_centre", "reconsent"

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["user", "purpose", "-at"], name="consent_latest_idx")]
        verbose_name = _("consent")
        verbose_name_plural = _("consents")


class PhoneCode(models.Model):
    """One one-time code texted to a mobile number (CN-REG-04). Only a keyed hash of the code is
    stored; the newest code of a user is the only one that counts. Written by accounts.identity."""
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="phone_codes")
    phone = models.CharField(_("mobile number"), max_length=16)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("sent at"))
    expires_at = models.DateTimeField(_("expires at"))
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="phonecode_user_idx"),
                   models.Index(fields=["phone", "-created_at"], name="phonecode_phone_idx")]
        verbose_name = _("phone verification code")
        verbose_name_plural = _("phone verification codes")

    def __str__(self) -> str:
        return f"#{self.pk} {self.created_at:%Y-%m-%d %H:%M}"
