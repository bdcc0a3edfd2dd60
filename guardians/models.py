from email.utils import parseaddr

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.policies import normalise_phone


def validate_phone(value: str) -> None:
    if normalise_phone(value) is None:
        raise ValidationError(
            _("Enter a mobile number with its country code, e.g. +86 138 0013 8000 or +1 415 555 0100."),
            code="invalid_phone")


class ContactKind(models.TextChoices):
    GUARDIAN = "guardian", _("Guardian")
    EMERGENCY = "emergency", _("Emergency contact")


class ContactLanguage(models.TextChoices):
    ZH_HANS = "zh-hans", "简体中文"
    EN = "en", "English"


class Contact(models.Model):
    """Someone told when the user is at risk (CN-CRI-07): never sent chat content."""
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="safety_contacts")
    kind = models.CharField(_("kind"), max_length=16, choices=ContactKind.choices)
    name = models.CharField(_("name"), max_length=80)
    relationship = models.CharField(_("relationship"), max_length=40, blank=True)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("mobile phone"), max_length=20, blank=True, validators=[validate_phone],
                             help_text=_("With country code, e.g. +86 138 0013 8000."))
    language = models.CharField(_("language for messages"), max_length=10, choices=ContactLanguage.choices,
                                default=ContactLanguage.ZH_HANS)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # CN-REG-03, BX-13: set when the contact proved they are reachable and agreed: the user typed the
    # code texted to the contact, or the contact confirmed through the link in the invitation. Cleared
    # when the address or number changes. Unverified contacts are still told in a crisis.
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)
    # The invitation (BX-13): the link and the code are derived from these nonces with the secret
    # key (guardians.invitations), so the database never holds a usable link or code. A new nonce
    # retires every earlier link or code.
    invited_at = models.DateTimeField(_("invited at"), null=True, blank=True)
    link_nonce = models.CharField(max_length=32, blank=True)
    code_nonce = models.CharField(max_length=32, blank=True)
    code_sent_at = models.DateTimeField(null=True, blank=True)
    code_attempts = models.PositiveSmallIntegerField(default=0)
    declined_at = models.DateTimeField(_("declined at"), null=True, blank=True)
    # Set when a message to the contact could not be delivered after every retry (CN-REG-03): the
    # user must fix the contact; cleared when the address or number changes.
    bounced_at = models.DateTimeField(_("undeliverable since"), null=True, blank=True)
    # Guardian contacts only: the guardian account that confirmed the link with the texted code
    # (CN-MIN-03), and its consent to the service for this minor (CN-MIN-03, CN-MIN-04): given at,
    # notice version, withdrawn at. History lives in the audit log.
    account = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="guarded_contacts", verbose_name=_("guardian account"))
    consent_at = models.DateTimeField(_("guardian consent given at"), null=True, blank=True)
    consent_version = models.CharField(_("guardian consent notice version"), max_length=20, blank=True)
    consent_revoked_at = models.DateTimeField(_("guardian consent withdrawn at"), null=True, blank=True)
    # CN-MIN-10, guardian contacts only: the guardian's tighter limits for the minor (guardians.policies
    # limits_refusal): daily chat minutes (0 = none; null = the default for the age) and rest hours in
    # Beijing time (both null = the default window). Bind while this is the minor's active guardian contact.
    daily_minutes = models.PositiveSmallIntegerField(_("daily chat minutes set by the guardian"), null=True,
                                                     blank=True)
    rest_start = models.TimeField(_("rest hours start"), null=True, blank=True)
    rest_end = models.TimeField(_("rest hours end"), null=True, blank=True)

    class Meta:
        ordering = ["kind", "created_at", "id"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        constraints = [
            models.UniqueConstraint(fields=["user"], condition=Q(kind="guardian", active=True),
                                    name="one_active_guardian_contact"),
            models.CheckConstraint(condition=~Q(email="") | ~Q(phone=""), name="contact_reachable"),
            models.CheckConstraint(condition=Q(rest_start__isnull=True, rest_end__isnull=True)
                                   | Q(rest_start__isnull=False, rest_end__isnull=False),
                                   name="contact_rest_hours_whole"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def confirmed(self) -> bool:
        """Active, verified and reachable: counts for the chat gate (CN-REG-03)."""
        return self.active and self.verified_at is not None and self.bounced_at is None

    @property
    def has_consent(self) -> bool:
        return self.consent_at is not None and self.consent_revoked_at is None


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    PORTAL = "portal", _("Guardian portal")


class Status(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class Reason(models.TextChoices):
    DETECTED = "detected", _("Safety concern detected")
    UNCLAIMED = "unclaimed", _("No staff member responded in time")
    # Messages about the contact relationship itself (BX-13, CN-REG-03), not about a risk:
    INVITATION = "invitation", _("Named as a contact")
    CODE = "code", _("New confirmation code")
    REPLACED = "replaced", _("No longer a contact")
    SUMMARY = "summary", _("Weekly usage summary")  # CN-MIN-08: a report, not a safety notice


SAFETY_REASONS = (Reason.DETECTED, Reason.UNCLAIMED)


class Notification(models.Model):
    """The delivery log: one row per event, contact and channel (CN-CRI-07, CN-CRI-10, CN-CON-05).

    `subject` and `body` are what was sent; they never hold chat content.
    """
    event_key = models.CharField(max_length=100)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="safety_notifications",
                             verbose_name=_("user at risk"))
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="notifications")
    # Set on portal rows only: the guardian account that sees the alert.
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="portal_alerts")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    level = models.CharField(_("level"), max_length=16)
    reason = models.CharField(max_length=16, choices=Reason.choices, default=Reason.DETECTED)
    address = models.CharField(max_length=254, blank=True)  # email or phone, as it was when queued
    language = models.CharField(max_length=10)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)  # start of the current attempt (the lease)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("safety notification")
        verbose_name_plural = _("safety notifications")
        constraints = [
            models.UniqueConstraint(fields=["event_key", "contact", "channel"], name="one_notification_per_channel"),
        ]
        indexes = [models.Index(fields=["recipient", "channel", "-created_at"], name="portal_alerts_newest")]

    def __str__(self) -> str:
        return f"{self.event_key} {self.channel} → {self.address or self.recipient_id} [{self.status}]"

    @property
    def message_id(self) -> str:
        """Deterministic RFC 5322 Message-ID: every resend of this notification carries the same one,
        so mail systems that deduplicate on it show the guardian a single message."""
        domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"
        return f"<safety-{self.pk}-{self.created_at:%Y%m%d%H%M%S}@{domain}>"


class CharacterBlock(models.Model):
    """CN-MIN-09: a character the guardian turned off for the minor of this guardian contact.

    Keyed by the character's slug: guardians does not point into companion (STYLE.md §1). A block
    binds while its guardian contact is the minor's active one; replacing the guardian ends it.
    """
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="character_blocks")
    character_slug = models.CharField(_("character"), max_length=50)
    created_at = models.DateTimeField(_("blocked at"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("blocked by"))

    class Meta:
        ordering = ["contact", "character_slug"]
        verbose_name = _("blocked character")
        verbose_name_plural = _("blocked characters")
        constraints = [
            models.UniqueConstraint(fields=["contact", "character_slug"], name="one_block_per_character"),
        ]

    def __str__(self) -> str:
        return f"{self.character_slug} blocked for contact {self.contact_id}"
