"""The feature library (特征库, CN-CON-03) and the crisis reply templates (预设回复模板, CN-CRI-03).

Both are edited as drafts and take effect only when a second person, a compliance officer,
approves them (two-person rule); every approval or retirement publishes a new `LibraryVersion`
so running processes know to reload. Writes live in `moderation.library` and
`moderation.safety_replies`, never in `save()`.
"""
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Category(models.TextChoices):
    """Risk categories (contracts §6): inbound user risks, then outbound AI-text risks."""
    SUICIDE = "suicide", _("Suicide")
    SELF_HARM = "self_harm", _("Self-harm")
    VIOLENCE = "violence", _("Violence")
    PROPERTY_LOSS = "property_loss", _("Property loss / fraud")
    SEXUAL = "sexual", _("Sexual content")
    MINOR_SEXUAL = "minor_sexual", _("Sexual content involving minors")
    DEPENDENCE = "dependence", _("Emotional dependence")
    PROHIBITED = "prohibited", _("Prohibited content")
    MANIPULATION = "manipulation", _("Manipulation")
    INDUCED_DEPENDENCE = "induced_dependence", _("Induced dependence")
    RELATIVE_IMPERSONATION = "relative_impersonation", _("Relative impersonation")


class RiskLevel(models.TextChoices):
    """Ordered as moderation.pipeline.LEVELS (without "none")."""
    DISTRESS = "distress", _("Distress")
    HIGH_RISK = "high_risk", _("High risk")
    CRISIS = "crisis", _("Crisis")


class MatchKind(models.TextChoices):
    LITERAL = "literal", _("Literal text")
    REGEX = "regex", _("Regular expression")


class Direction(models.TextChoices):
    INBOUND = "inbound", _("User messages")
    OUTBOUND = "outbound", _("AI replies")
    BOTH = "both", _("Both")


class TermLanguage(models.TextChoices):
    ZH = "zh", _("Chinese")
    EN = "en", _("English")
    ANY = "any", _("Any language")


class Status(models.TextChoices):
    DRAFT = "draft", _("Draft")
    APPROVED = "approved", _("Approved")
    RETIRED = "retired", _("Retired")


class Library(models.TextChoices):
    """Each library has its own version sequence."""
    FEATURES = "features", _("Feature library")
    SAFETY_REPLIES = "safety_replies", _("Safety reply templates")


class ReplyLevel(models.TextChoices):
    DISTRESS = "distress", _("Distress")
    HIGH_RISK = "high_risk", _("High risk")
    CRISIS = "crisis", _("Crisis")
    # CN-CRI-08: the second message when no operator has accepted the case in time.
    FALLBACK = "fallback", _("Fallback (no operator yet)")


class ReplyLanguage(models.TextChoices):
    ZH_HANS = "zh-hans", _("Simplified Chinese")
    EN = "en", _("English")


class RegionPack(models.TextChoices):
    """Which hotlines apply: US-CA and US-NY users share the US pack (US-CA-02, US-NY-01)."""
    CN = "CN", _("Mainland China")
    US = "US", _("United States")
    EU = "EU", _("European Union")
    OTHER = "OTHER", _("Other regions")


class Reviewed(models.Model):
    """Who wrote it and who (a different compliance officer) let it take effect."""
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    # Null only for seed rows shipped in a data migration (see `seeded`).
    author = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("author"), on_delete=models.PROTECT,
                               related_name="+", null=True, blank=True)
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("approver"), on_delete=models.PROTECT,
                                 related_name="+", null=True, blank=True)
    retired_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("retired by"),
                                   on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    retired_at = models.DateTimeField(_("retired"), null=True, blank=True)
    seeded = models.BooleanField(_("seed data"), default=False,
                                 help_text=_("Shipped with the release as reviewed default data."))
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        abstract = True

    @property
    def is_draft(self) -> bool:
        return self.status == Status.DRAFT


class FeatureTerm(Reviewed):
    """A term or pattern of the feature library (CN-CON-03). Literal text is stored normalised."""
    text = models.CharField(_("text"), max_length=300)
    match_kind = models.CharField(_("match"), max_length=10, choices=MatchKind.choices, default=MatchKind.LITERAL)
    category = models.CharField(_("category"), max_length=32, choices=Category.choices)
    level = models.CharField(_("level"), max_length=10, choices=RiskLevel.choices)
    direction = models.CharField(_("direction"), max_length=10, choices=Direction.choices, default=Direction.INBOUND)
    language = models.CharField(_("language"), max_length=3, choices=TermLanguage.choices, default=TermLanguage.ANY)
    weight = models.FloatField(_("weight"), default=1.0)

    class Meta:
        verbose_name = _("feature term")
        verbose_name_plural = _("feature terms")
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["status", "category"])]
        constraints = [
            models.CheckConstraint(condition=Q(author__isnull=False) | Q(seeded=True), name="feature_term_has_author"),
            models.CheckConstraint(condition=Q(weight__gte=0) & Q(weight__lte=1), name="feature_term_weight_range"),
        ]

    def __str__(self) -> str:
        return f"{self.text} ({self.category}, {self.level})"


class SafetyTemplate(Reviewed):
    """A versioned preset reply for risky situations (CN-CRI-02..06, US-CA-02, US-NY-01).

    The key is (level, category, language, region); the latest approved version of a key is
    served. An empty category is the key's generic template.
    """
    level = models.CharField(_("level"), max_length=10, choices=ReplyLevel.choices)
    category = models.CharField(_("category"), max_length=32, choices=Category.choices, blank=True)
    language = models.CharField(_("language"), max_length=10, choices=ReplyLanguage.choices)
    region = models.CharField(_("region pack"), max_length=8, choices=RegionPack.choices)
    text = models.TextField(_("text"))
    resources = models.JSONField(_("help resources"), default=list, blank=True)
    version = models.PositiveIntegerField(_("version"))

    class Meta:
        verbose_name = _("safety reply template")
        verbose_name_plural = _("safety reply templates")
        ordering = ["region", "language", "level", "category", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["level", "category", "language", "region", "version"],
                                    name="safety_template_key_version"),
            models.CheckConstraint(condition=Q(author__isnull=False) | Q(seeded=True),
                                   name="safety_template_has_author"),
        ]

    def __str__(self) -> str:
        return f"{self.key} v{self.version}"

    @property
    def key(self) -> str:
        return "/".join((self.level, self.category or "*", self.language, self.region))


class LibraryVersion(models.Model):
    """A published state of a library: approving or retiring an entry adds one (CN-CON-03)."""
    library = models.CharField(_("library"), max_length=20, choices=Library.choices)
    number = models.PositiveIntegerField(_("version"))
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("published by"),
                                     on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    published_at = models.DateTimeField(_("published"), auto_now_add=True)
    summary = models.CharField(_("change"), max_length=300)

    class Meta:
        verbose_name = _("library version")
        verbose_name_plural = _("library versions")
        ordering = ["library", "-number"]
        constraints = [models.UniqueConstraint(fields=["library", "number"], name="library_version_number")]

    def __str__(self) -> str:
        return f"{self.library} v{self.number}"
