import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.fields import EncryptedTextField
from accounts.policies import SUSPECTED_MINOR_AGE, AgeBand, age_band, age_on


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
    # CN-MIN-05: minor mode switched on for a declared adult whose messages say they are a minor
    # (accounts.minor_mode.note_age_cue); only a granted appeal ends it (CN-MIN-06). The age the
    # messages suggest sets the minor's defaults (time limits), SUSPECTED_MINOR_AGE when none was said.
    minor_mode_since = models.DateTimeField(_("minor mode on by suspicion since"), null=True, blank=True)
    minor_mode_age = models.PositiveSmallIntegerField(_("age the messages suggest"), null=True, blank=True)
    # CN-MIN-01: an adult may turn minor mode on for themselves; leaving it is then an appeal too.
    minor_mode_chosen = models.BooleanField(_("minor mode turned on by the person"), default=False)
    # CN-MIN-06: a granted appeal with a real-name check; chat signals no longer switch this account.
    age_verified_at = models.DateTimeField(_("age verified at"), null=True, blank=True)

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
        """Minor mode: minors by birth date, and declared adults suspected to be minors (CN-MIN-05)."""
        return self.age_band in (AgeBand.CHILD, AgeBand.MINOR) or self.minor_mode_since is not None

    @property
    def protective_age(self) -> int | None:
        """The age a minor's defaults follow (CN-MIN-10): the birth date's, or for a suspected minor
        the age their messages suggest (SUSPECTED_MINOR_AGE if they said none); None for adults."""
        if self.age_band in (AgeBand.CHILD, AgeBand.MINOR):
            return self.age
        if self.minor_mode_since is not None:
            return self.minor_mode_age or SUSPECTED_MINOR_AGE
        return None

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


class AgeCueKind(models.TextChoices):
    STATED_AGE = "stated_age", _("Stated an age under 18")
    SCHOOL_YEAR = "school_year", _("Stated a school year")
    UNDERAGE = "underage", _("Said they are under age")
    SCHOOL_TALK = "school_talk", _("Talked about a school day")


class AgeCue(models.Model):
    """One sign in a chat message that the writer is a minor (CN-MIN-05): the kind and weight of the
    cue only, never the words (privacy-preserving); weights over ACCOUNTS_AGE_CUE_WINDOW_DAYS add up."""
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="age_cues")
    kind = models.CharField(_("kind"), max_length=12, choices=AgeCueKind.choices)
    weight = models.FloatField(_("weight"))
    age = models.PositiveSmallIntegerField(_("suggested age"), null=True, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="agecue_user_idx")]
        verbose_name = _("age cue")
        verbose_name_plural = _("age cues")


class AppealStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for a decision")
    GRANTED = "granted", _("Granted: minor mode ended")
    REJECTED = "rejected", _("Refused: minor mode stays on")


class IdCheck(models.TextChoices):
    MATCH = "match", _("ID number valid; its birth date matches the account and is 18 or over")
    MISMATCH = "mismatch", _("ID number valid, but its birth date does not match the account or is under 18")
    NONE = "none", _("No ID number given")


class MinorModeAppeal(models.Model):
    """A suspected minor's appeal against minor mode (CN-MIN-06). Minor mode stays on until staff
    decide, within ACCOUNTS_MINOR_APPEAL_WORKING_DAYS working days. The resident ID number is
    checked (checksum, birth date) when filed and never stored: only its last four characters."""
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="minor_appeals")
    explanation = EncryptedTextField(_("explanation"))
    id_check = models.CharField(_("real-name check"), max_length=8, choices=IdCheck.choices)
    id_last4 = models.CharField(_("ID number, last four characters"), max_length=4, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=AppealStatus.choices, default=AppealStatus.PENDING)
    filed_at = models.DateTimeField(_("filed at"), default=timezone.now)
    due_at = models.DateTimeField(_("decision due"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    decision_note = models.TextField(_("note"), blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            # One open appeal per person at a time.
            models.UniqueConstraint(fields=["user"], condition=models.Q(status="pending"),
                                    name="minor_appeal_one_pending"),
        ]
        verbose_name = _("minor mode appeal")
        verbose_name_plural = _("minor mode appeals")

    def __str__(self) -> str:
        return str(self.public_id)


class MinorsAuditSignOff(models.Model):
    """CN-MIN-15: a compliance officer's signature on a year's minors' personal-information audit.
    Keeps the evidence pack as signed (counts only, no names or messages) and its SHA-256."""
    year = models.PositiveSmallIntegerField(_("year audited"), unique=True)
    pack = models.JSONField(_("evidence pack"))
    pack_sha256 = models.CharField(_("SHA-256 of the pack"), max_length=64)
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField(_("signed at"), default=timezone.now)
    note = models.TextField(_("findings and actions"), blank=True)

    class Meta:
        ordering = ["-year"]
        verbose_name = _("minors' audit sign-off")
        verbose_name_plural = _("minors' audit sign-offs")

    def __str__(self) -> str:
        return str(self.year)
