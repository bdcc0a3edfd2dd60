import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.fields import EncryptedTextField


class CharacterRole(models.TextChoices):
    FRIEND = "friend", _("Friend")
    MENTOR = "mentor", _("Mentor")
    STUDY = "study", _("Study partner")
    ROMANTIC = "romantic", _("Romantic partner")
    RELATIVE = "relative", _("Virtual relative")
    STORYTELLER = "storyteller", _("Storyteller")


# Roles never offered to minors (romantic/intimate and virtual-relative roles).
ADULT_ONLY_ROLES = frozenset({CharacterRole.ROMANTIC, CharacterRole.RELATIVE})


class Character(models.Model):
    slug = models.SlugField(unique=True)
    role = models.CharField(_("role"), max_length=16, choices=CharacterRole.choices)
    name_zh = models.CharField(_("name (Chinese)"), max_length=60)
    name_en = models.CharField(_("name (English)"), max_length=60)
    tagline_zh = models.CharField(_("tagline (Chinese)"), max_length=200)
    tagline_en = models.CharField(_("tagline (English)"), max_length=200)
    persona_zh = models.TextField(_("persona prompt (Chinese)"))
    persona_en = models.TextField(_("persona prompt (English)"))
    language = models.CharField(_("primary language"), max_length=10, default="zh-hans")
    avatar = models.CharField(_("avatar"), max_length=200, help_text=_("Path under static/"))
    is_active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "slug"]
        verbose_name = _("character")
        verbose_name_plural = _("characters")

    def __str__(self) -> str:
        return self.slug

    @property
    def is_adult_only(self) -> bool:
        return self.role in ADULT_ONLY_ROLES

    def name_for(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_zh

    def tagline_for(self, language: str) -> str:
        return self.tagline_en if language == "en" else self.tagline_zh

    def persona_for(self, language: str) -> str:
        return self.persona_en if language == "en" else self.persona_zh


class Mode(models.TextChoices):
    AI = "ai", _("AI")
    WAITING = "waiting", _("Waiting for a human")
    HUMAN = "human", _("Human staff")


class Conversation(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations")
    character = models.ForeignKey(Character, on_delete=models.PROTECT, related_name="conversations")
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.AI)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Opening the chat resumes "the current conversation": at most one per user and character.
            models.UniqueConstraint(fields=["user", "character"], condition=Q(archived_at__isnull=True),
                                    name="one_current_conversation_per_character"),
        ]
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")


class Author(models.TextChoices):
    USER = "user", _("User")
    AI = "ai", _("AI")
    OPERATOR = "operator", _("Operator")
    SYSTEM = "system", _("System")


class MessageStatus(models.TextChoices):
    STREAMING = "streaming", _("Being written")
    COMPLETE = "complete", _("Complete")
    CANCELLED = "cancelled", _("Stopped by the user")
    FAILED = "failed", _("Failed")
    INTERRUPTED = "interrupted", _("Interrupted")


class Message(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    author = models.CharField(max_length=10, choices=Author.choices)
    text = EncryptedTextField(blank=True, default="")
    status = models.CharField(max_length=12, choices=MessageStatus.choices, default=MessageStatus.COMPLETE)
    # Idempotent sending: a resend after reconnect carries the same client_id (contracts §5).
    client_id = models.CharField(max_length=64, null=True, blank=True)
    # One AI reply per user message, so a second tab or a rerun never generates twice.
    reply_to = models.OneToOneField("self", null=True, blank=True, on_delete=models.CASCADE, related_name="reply")
    # Implicit AIGC label fields (CN-DIS-05, GB 45438): set on AI content when it is complete.
    aigc = models.JSONField(default=dict, blank=True)
    model_name = models.CharField(max_length=100, blank=True)
    # Categories of AI clauses the outbound screen replaced before display, one list per clause.
    screening_flags = models.JSONField(default=list, blank=True)
    # CN-CRI-01: the inbound verdict of a user message, stored with the message before any model
    # call: {"level", "categories", "score", "versions"}. `risk_level` is its level, for counting.
    risk_level = models.CharField(max_length=10, default="none", blank=True)
    risk = models.JSONField(default=dict, blank=True)
    # The safety-team member who wrote an operator message (CN-CRI-05).
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "client_id"], condition=Q(client_id__isnull=False),
                                    name="message_client_id_once_per_conversation"),
        ]
        verbose_name = _("message")
        verbose_name_plural = _("messages")


class UsageClock(models.Model):
    """One server-side usage clock per user across tabs and devices (CN-USE-01, BX-07)."""
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_clock")
    streak_started_at = models.DateTimeField(null=True, blank=True)
    last_active_at = models.DateTimeField(null=True, blank=True)
    reminders_in_streak = models.PositiveIntegerField(default=0)


class DailyUsage(models.Model):
    """Active chat seconds per user and Beijing day, from every socket (CN-MIN-10, BX-07): the
    minors' daily limit reads it. Written under the user's UsageClock lock."""
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="daily_usage")
    day = models.DateField()
    seconds = models.FloatField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="daily_usage_once_per_day")]


class ReminderKind(models.TextChoices):
    DISCLOSURE = "disclosure", _("AI disclosure")
    CONTINUOUS_USE = "continuous_use", _("Continuous use")
    DEPENDENCE = "dependence", _("Dependence")
    TIME_LIMIT = "time_limit", _("Time limit")
    CURFEW = "curfew", _("Rest hours")
    BREAK = "break", _("Break")


START_NOTICE_PREFIX = "start:"  # Reminder.key of start-of-chat disclosure pop-ups


class Reminder(models.Model):
    """A pop-up the user must acknowledge; the row is the log of when it was shown and dismissed."""
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=16, choices=ReminderKind.choices)
    # What makes it unique: "continuous_use:<streak start>:<n>", "start:day:<date>", "start:login:<session>"
    key = models.CharField(max_length=120)
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="reminder_once_per_key")]


class RiskLevel(models.TextChoices):
    DISTRESS = "distress", _("Distress")
    HIGH_RISK = "high_risk", _("High risk")
    CRISIS = "crisis", _("Crisis")


class CaseStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting for a human")
    HUMAN = "human", _("Human has taken over")
    HANDED_BACK = "handed_back", _("Handed back to the AI")
    RESOLVED = "resolved", _("Resolved")


class CaseOutcome(models.TextChoices):
    SAFE = "safe", _("User safe, support given")
    REFERRED = "referred", _("Referred to professional help")
    CONTACT_REACHED = "contact_reached", _("Guardian or emergency contact reached")
    EMERGENCY_SERVICES = "emergency_services", _("Emergency services called")
    NO_RESPONSE = "no_response", _("User stopped responding")
    FALSE_POSITIVE = "false_positive", _("No real risk (false alarm)")
    QUIET = "quiet", _("Closed after 72 hours without risk signals")


OPEN_CASE_STATUSES = (CaseStatus.WAITING, CaseStatus.HUMAN, CaseStatus.HANDED_BACK)


class CrisisCase(models.Model):
    """One safety case per user at a time: it follows the user across conversations and devices
    until an operator resolves it (CN-CRI-04..08, CN-CRI-10). Its events are the timeline."""
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="crisis_cases")
    # Where the user is talking now; operator messages go here.
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="crisis_cases")
    trigger = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    level = models.CharField(max_length=10, choices=RiskLevel.choices)
    categories = models.JSONField(default=list)
    status = models.CharField(max_length=12, choices=CaseStatus.choices, default=CaseStatus.WAITING)
    opened_at = models.DateTimeField(auto_now_add=True)
    last_signal_at = models.DateTimeField(default=timezone.now)  # latest high-risk message (BX-02 decay)
    sla_deadline = models.DateTimeField()
    escalated_at = models.DateTimeField(null=True, blank=True)
    contacts_notified = models.PositiveSmallIntegerField(default=0)
    claimed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="claimed_cases")
    claimed_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=CaseOutcome.choices, blank=True)
    follow_up = models.TextField(blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(fields=["user"], condition=~Q(status="resolved"), name="one_open_case_per_user"),
        ]
        verbose_name = _("crisis case")
        verbose_name_plural = _("crisis cases")

    def __str__(self) -> str:
        return f"{self.level} {self.public_id}"

    @property
    def is_open(self) -> bool:
        return self.status != CaseStatus.RESOLVED


class CaseEventKind(models.TextChoices):
    OPENED = "opened", _("Case opened")
    ESCALATED = "escalated", _("Risk level raised")
    SAFETY_REPLY = "safety_reply", _("Preset safety reply sent")
    CONTACTS_NOTIFIED = "contacts_notified", _("Contacts notified")
    VIEWED = "viewed", _("Opened by an operator")
    CLAIMED = "claimed", _("Claimed by an operator")
    OPERATOR_MESSAGE = "operator_message", _("Operator wrote")
    HANDED_BACK = "handed_back", _("Handed back to the AI")
    SLA_MISSED = "sla_missed", _("Nobody claimed in time: fallback ran")
    CONTACT_CALLED = "contact_called", _("Operator called a contact")
    RESOLVED = "resolved", _("Resolved")


class CaseEvent(models.Model):
    """The case's timeline and its audit trail: who did what, when (CN-CRI-10)."""
    case = models.ForeignKey(CrisisCase, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=CaseEventKind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]


class OperatorPresence(models.Model):
    """Open console sockets per operator, across processes (presence in the console)."""
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="presence")
    connections = models.PositiveIntegerField(default=0)
    last_seen_at = models.DateTimeField(auto_now=True)


class DrillRun(models.Model):
    """One end-to-end crisis drill with a synthetic account (BX-16, CN-CRI-10).

    Durations are seconds from `started_at` (just before the drill message is posted) to: the message
    stored with its risk verdict (detection), the preset safety reply event (template), the operator's
    claim (accept) and the first contact notification sent; null when that step never happened. The
    drill account is `user`: its cases are drills and stay out of the crisis statistics.
    """

    class Outcome(models.TextChoices):
        RUNNING = "running", _("Running")
        PASS = "pass", _("Passed")
        FAIL = "fail", _("Failed")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="drill_runs")
    case = models.ForeignKey(CrisisCase, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    automated = models.BooleanField(default=False)  # claimed by the drill itself (schedules, CI)
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    detection_seconds = models.FloatField(null=True, blank=True)
    template_seconds = models.FloatField(null=True, blank=True)
    accept_seconds = models.FloatField(null=True, blank=True)
    notification_seconds = models.FloatField(null=True, blank=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.RUNNING)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("crisis drill")
        verbose_name_plural = _("crisis drills")


class SanctionKind(models.TextChoices):
    RESTRICT = "restrict", _("Restrict: AI chat off, only the safety team can be reached")
    SUSPEND = "suspend", _("Suspend for a number of days")
    TERMINATE = "terminate", _("Terminate the service")


class Sanction(models.Model):
    """A measure against a user who presents a major safety hazard (CN-CRI-09, CN-CON-04 sanctions
    ladder). The row is the record: who imposed it, why, on which evidence, and who lifted it.

    `restrict`: the user may still open chats and read them, but no AI text is generated for them;
    their messages are refused unless a safety case is open (the team is writing) or the message
    itself is high-risk (it opens a case). `suspend` closes every chat until `ends_at`;
    `terminate` closes every chat with no end. Active = not lifted and not past `ends_at`.
    """
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # PROTECT: the record outlives attempts to delete the account (CN-CRI-09 "keep records").
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="sanctions")
    kind = models.CharField(_("measure"), max_length=10, choices=SanctionKind.choices)
    reason = models.TextField(_("reason"))
    # [{"kind": "message"|"case", "id": public id}], each checked to belong to `user`.
    evidence = models.JSONField(_("evidence"), default=list)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    notice_text = models.TextField(blank=True)  # what the user was told, in their language
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    lift_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("sanction")
        verbose_name_plural = _("sanctions")

    def __str__(self) -> str:
        return f"{self.kind} {self.public_id}"

    def is_active_at(self, moment) -> bool:
        return self.lifted_at is None and (self.ends_at is None or self.ends_at > moment)


class DependenceScore(models.Model):
    """One user's nightly over-dependence score (CN-EMO-06), computed from usage metadata and cue
    counts only, never from message text. `scored_on` is the last local day of the 7-day window;
    rerunning a night updates its row. A flagged score opens the dependence pop-up (CN-DIS-03)."""
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="dependence_scores")
    scored_on = models.DateField()
    flagged = models.BooleanField(default=False)
    reasons = models.JSONField(default=list, blank=True)  # "heavy_use", "night_use", "cues"
    heavy_days = models.PositiveSmallIntegerField(default=0)
    night_days = models.PositiveSmallIntegerField(default=0)
    cues = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-scored_on", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "scored_on"], name="dependence_score_once_per_day")]
        verbose_name = _("dependence score")
        verbose_name_plural = _("dependence scores")


class ComplaintKind(models.TextChoices):
    """CN-CMP-01: complaints (投诉), reports of illegal or harmful content (举报), appeals (申诉, CN-CMP-03)."""
    COMPLAINT = "complaint", _("Complaint")
    REPORT = "report", _("Report of illegal or harmful content")
    APPEAL = "appeal", _("Appeal against a decision")
    HELP = "help", _("Help request")  # CN-ELD-05: "Talk to a person" from a 60+ user; first reply due in 10 min


class ComplaintTarget(models.TextChoices):
    REPLY = "reply", _("A reply in a chat")
    CHARACTER = "character", _("A character")
    SERVICE = "service", _("The service")
    SANCTION = "sanction", _("A measure against my account")
    MODERATION = "moderation", _("A moderation decision about my message")


class ComplaintCategory(models.TextChoices):
    HARMFUL_REPLY = "harmful_reply", _("Harmful or inappropriate reply")
    SELF_HARM = "self_harm", _("Encourages self-harm or suicide")
    MINOR_SAFETY = "minor_safety", _("Puts a minor at risk")
    VIOLENCE = "violence", _("Violence or threats")
    SEXUAL = "sexual", _("Sexual content")
    ILLEGAL = "illegal", _("Illegal content")
    FRAUD = "fraud", _("Fraud or scam")
    MANIPULATION = "manipulation", _("Emotional manipulation")
    PRIVACY = "privacy", _("Privacy")
    SERVICE = "service", _("Service quality")
    DECISION = "decision", _("Decision under appeal")
    OTHER = "other", _("Other")


# CN-CMP-02: reports of these are safety-related and triaged within the hour.
SAFETY_CATEGORIES = frozenset({ComplaintCategory.SELF_HARM, ComplaintCategory.MINOR_SAFETY,
                               ComplaintCategory.VIOLENCE})


class ComplaintStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    IN_REVIEW = "in_review", _("In review")
    RESOLVED = "resolved", _("Resolved")


class ComplaintOutcome(models.TextChoices):
    UPHELD = "upheld", _("Upheld: we agree and have acted")
    PARTLY = "partly", _("Partly upheld")
    NOT_UPHELD = "not_upheld", _("Not upheld")


class Complaint(models.Model):
    """One complaint, report or appeal and its handling (CN-CMP-01..04, CN-CRI-09 appeals).

    Deadlines are fixed at filing from the published ones (settings COMPANION_COMPLAINT_*): the
    acknowledgement is automatic; `triage_due_at` (safety-related reports only) is when staff must
    have taken it up; `due_at` is when the answer is due (appeals: working days; a complex case,
    once escalated, gets the longer period and the person is told). Text the person or staff wrote
    is encrypted at rest.
    """
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(_("type"), max_length=10, choices=ComplaintKind.choices)
    target = models.CharField(_("about"), max_length=12, choices=ComplaintTarget.choices)
    category = models.CharField(_("category"), max_length=16, choices=ComplaintCategory.choices)
    # Null for a report filed without an account (CN-CMP-01 public form).
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="complaints")
    contact_email = EncryptedTextField(_("email for the answer"), blank=True)
    language = models.CharField(max_length=10, default="zh-hans")
    message = models.ForeignKey("Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    character = models.ForeignKey(Character, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sanction = models.ForeignKey(Sanction, null=True, blank=True, on_delete=models.SET_NULL, related_name="appeals")
    text = EncryptedTextField(_("what happened"))
    safety_related = models.BooleanField(default=False)
    status = models.CharField(_("status"), max_length=10, choices=ComplaintStatus.choices,
                              default=ComplaintStatus.RECEIVED, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    triage_due_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(_("answer due"))
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    assigned_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalation_note = EncryptedTextField(blank=True)
    answer = EncryptedTextField(_("answer"), blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    outcome = models.CharField(_("outcome"), max_length=10, choices=ComplaintOutcome.choices, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    overdue_alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "due_at"], name="complaint_open_due_idx")]
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        return f"HV-{self.pk:06d}" if self.pk else "HV-new"

    @property
    def is_open(self) -> bool:
        return self.status != ComplaintStatus.RESOLVED


class NoticeKind(models.TextChoices):
    """CN-SVC-01: what a service notice announces."""
    MAJOR_CHANGE = "major_change", _("Major change (persona or terms)")
    SUSPENSION = "suspension", _("Suspension")
    DISCONTINUATION = "discontinuation", _("Discontinuation")


# Kinds that stop chat when they take effect (the socket answers `closed` `service_ended`).
ENDING_NOTICE_KINDS = (NoticeKind.SUSPENSION, NoticeKind.DISCONTINUATION)


class ServiceNotice(models.Model):
    """Advance notice of a major change, a suspension or a discontinuation of one character or,
    with no character, of the whole service (CN-SVC-01). Scheduled by a compliance officer at
    least the advance period ahead (companion/notices.py); the row records what users were told
    and when each step ran: `posted_at` (system notice in the affected conversations),
    `emailed_at` (every affected user mailed), `took_effect_at` (chat ended: sockets closed, a
    discontinued character retired). A suspension ends at `resumes_at`."""
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(_("kind"), max_length=16, choices=NoticeKind.choices)
    # PROTECT: the notice is the record that users were told before the character went away.
    character = models.ForeignKey(Character, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="service_notices", verbose_name=_("character"))
    title_zh = models.CharField(_("title (Chinese)"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200)
    body_zh = models.TextField(_("notice (Chinese)"))
    body_en = models.TextField(_("notice (English)"))
    effective_at = models.DateTimeField(_("takes effect"), db_index=True)
    resumes_at = models.DateTimeField(_("service resumes"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    posted_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    took_effect_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-effective_at", "-id"]
        verbose_name = _("service notice")
        verbose_name_plural = _("service notices")

    def __str__(self) -> str:
        return f"{self.kind} {self.character.slug if self.character_id else 'service'} {self.effective_at:%Y-%m-%d}"

    def title_for(self, language: str) -> str:
        return self.title_en if language == "en" else self.title_zh

    def body_for(self, language: str) -> str:
        return self.body_en if language == "en" else self.body_zh


class ServiceNoticeDelivery(models.Model):
    """One affected user's email about one notice: claimed before sending, stamped after, so a
    rerun of the mailing sends nobody twice and retries only what never went out (CN-SVC-01)."""
    notice = models.ForeignKey(ServiceNotice, on_delete=models.CASCADE, related_name="deliveries")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    claimed_at = models.DateTimeField(default=timezone.now)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["notice", "user"], name="notice_delivery_once_per_user")]


class Incident(models.Model):
    """An outage that makes the service unusable, with its public statement and, once resolved,
    the incident note (CN-SVC-02). Open while `resolved_at` is empty: every page shows a banner
    and /status/ lists it. `started_at` is when the outage began, `published_at` when the
    statement went up (the rule asks for it within the hour)."""
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title_zh = models.CharField(_("title (Chinese)"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200)
    statement_zh = models.TextField(_("statement (Chinese)"))
    statement_en = models.TextField(_("statement (English)"))
    started_at = models.DateTimeField(_("outage began"))
    published_at = models.DateTimeField(default=timezone.now)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    note_zh = models.TextField(_("incident note (Chinese)"), blank=True)
    note_en = models.TextField(_("incident note (English)"), blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")

    def __str__(self) -> str:
        return f"{self.title_en} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    def title_for(self, language: str) -> str:
        return self.title_en if language == "en" else self.title_zh

    def statement_for(self, language: str) -> str:
        return self.statement_en if language == "en" else self.statement_zh

    def note_for(self, language: str) -> str:
        return self.note_en if language == "en" else self.note_zh


class ExportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Being prepared")
    READY = "ready", _("Ready to download")
    FAILED = "failed", _("Failed")


class DataExport(models.Model):
    """A copy of everything we hold about one person (CN-DAT-04, CN-DAT-09), built by a Celery task.
    The ZIP is stored encrypted (Fernet, FIELD_ENCRYPTION_KEYS) in the row, so deleting the row
    deletes the file; it expires after COMPANION_DATA_EXPORT_DAYS and is purged with the account."""
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="data_exports")
    status = models.CharField(max_length=8, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)  # percent
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    archive = models.BinaryField(null=True, blank=True, editable=False)  # encrypted ZIP
    size = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("data export")
        verbose_name_plural = _("data exports")


# --- Wallet and minors' spending (CN-MIN-11, CN-CRI-06; companion/wallet.py) -----------------------
# Money is counted in integer fen (1 yuan = 100 fen) end to end: no coins, no floats (docs/decisions.md).


class Wallet(models.Model):
    """One balance per account, in fen. Every change goes through companion.wallet under a row lock
    on this wallet and writes a LedgerEntry; the database refuses a negative balance (CN-MIN-11)."""
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="wallet")
    balance_fen = models.BigIntegerField(_("balance (fen)"), default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("wallet")
        verbose_name_plural = _("wallets")
        constraints = [models.CheckConstraint(condition=Q(balance_fen__gte=0), name="wallet_balance_not_negative")]

    def __str__(self) -> str:
        return f"wallet {self.user_id}: {self.balance_fen} fen"


class LedgerKind(models.TextChoices):
    TOP_UP = "top_up", _("Top-up")
    PURCHASE = "purchase", _("Purchase")
    REFUND = "refund", _("Refund")


class LedgerEntry(models.Model):
    """Append-only money movements of one wallet (CN-MIN-11). `amount_fen` is always positive; the kind
    gives the sign. `idempotency_key` makes a replayed request return the first result. A purchase by
    a minor names the guardian who approved it; a refund names the purchase it reverses (at most once)."""
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    wallet = models.ForeignKey(Wallet, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(_("kind"), max_length=8, choices=LedgerKind.choices)
    amount_fen = models.BigIntegerField(_("amount (fen)"))
    item = models.CharField(_("item"), max_length=40, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name=_("approved by"))
    refund_of = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="refund", verbose_name=_("refund of"))
    idempotency_key = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        constraints = [models.CheckConstraint(condition=Q(amount_fen__gt=0), name="ledger_amount_positive")]
        indexes = [models.Index(fields=["wallet", "kind", "created_at"], name="ledger_wallet_kind_time")]


class TopUpStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for payment")
    PAID = "paid", _("Paid")
    CANCELLED = "cancelled", _("Cancelled")


class TopUp(models.Model):
    """One top-up sent to the payment provider (companion/payments.py). Completed once, by a
    signed return from the provider; a replayed return finds it paid and does nothing."""
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    wallet = models.ForeignKey(Wallet, on_delete=models.CASCADE, related_name="top_ups")
    amount_fen = models.BigIntegerField(_("amount (fen)"))
    provider = models.CharField(max_length=20)
    status = models.CharField(_("status"), max_length=10, choices=TopUpStatus.choices, default=TopUpStatus.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("top-up")
        verbose_name_plural = _("top-ups")
        constraints = [models.CheckConstraint(condition=Q(amount_fen__gt=0), name="topup_amount_positive")]


class SpendingStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for the guardian")
    COMPLETED = "completed", _("Approved and bought")
    DECLINED = "declined", _("Declined by the guardian")
    FAILED = "failed", _("Approved but refused")


class SpendingRequest(models.Model):
    """CN-MIN-11: a minor's purchase waiting for the guardian's approval in the portal. Approval runs
    the purchase at once (every cap checked again then); the request records who decided."""
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="spending_requests")
    contact = models.ForeignKey("guardians.Contact", on_delete=models.CASCADE, related_name="spending_requests")
    item = models.CharField(_("item"), max_length=40)
    amount_fen = models.BigIntegerField(_("amount (fen)"))
    status = models.CharField(_("status"), max_length=10, choices=SpendingStatus.choices,
                              default=SpendingStatus.PENDING)
    reason = models.CharField(max_length=40, blank=True)  # refusal code when FAILED
    idempotency_key = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    entry = models.OneToOneField(LedgerEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("spending request")
        verbose_name_plural = _("spending requests")
        constraints = [models.CheckConstraint(condition=Q(amount_fen__gt=0), name="spending_amount_positive")]


class SpendingControl(models.Model):
    """CN-MIN-11: what the guardian of this guardian contact allows the minor: purchases and top-ups
    on or off (off when no row), and caps in fen that may only be lower than the statutory ones (null
    = the statutory cap). Binds while the contact is the minor's active guardian contact."""
    contact = models.OneToOneField("guardians.Contact", on_delete=models.CASCADE, related_name="spending_control")
    enabled = models.BooleanField(_("purchases allowed"), default=False)
    per_purchase_fen = models.PositiveIntegerField(_("per purchase cap (fen)"), null=True, blank=True)
    daily_fen = models.PositiveIntegerField(_("daily cap (fen)"), null=True, blank=True)
    monthly_fen = models.PositiveIntegerField(_("monthly cap (fen)"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("spending control")
        verbose_name_plural = _("spending controls")


class MinorDataAccess(models.Model):
    """CN-DAT-02: a staff member's request to read a minor's chat message under a ticket, and the
    second staff member's approval. The text shows only to the requester, only once another
    compliance officer approved, and only until `expires_at`. Crisis cases are exempt: the safety
    team reads a case at once (CN-CRI-05), each read audited."""
    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="minor_access")
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(_("why you need to read it"), max_length=300)
    requested_at = models.DateTimeField(default=timezone.now)
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [models.CheckConstraint(condition=~Q(approver=F("requester")), name="minor_access_two_people")]
        verbose_name = _("minor data access")
        verbose_name_plural = _("minor data accesses")


class SensitiveFeature(models.TextChoices):
    """CN-DAT-10: processing that needs a personal-information impact assessment (PIPL 55-56) first."""
    REMOTE_LLM = "remote_llm", _("A model host outside the service writes the replies (entrusted processing)")
    REMOTE_MODERATION = "remote_moderation", _("Remote screening services read users' messages (entrusted processing)")
    TRAINING_EXPORT = "training_export", _("Consenting adults' chats extracted for model training (providing data)")


class ImpactAssessment(models.Model):
    """A personal-information impact assessment of one sensitive feature, recorded by a compliance
    officer (CN-DAT-10). The feature works only while its newest assessment is in force."""
    feature = models.CharField(_("feature"), max_length=20, choices=SensitiveFeature.choices)
    summary = models.TextField(_("purpose, data and recipients"))
    risks = models.TextField(_("risks to the people concerned"))
    measures = models.TextField(_("protective measures"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    review_by = models.DateField(_("review by"))

    class Meta:
        ordering = ["-recorded_at", "-id"]
        verbose_name = _("impact assessment")
        verbose_name_plural = _("impact assessments")
