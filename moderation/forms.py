"""Forms of the compliance pages: parse and validate input; the services in moderation.library and
moderation.safety_replies validate again and write."""
from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy as _

from accounts import audit
from moderation.library import MAX_TERM_CHARS, clean_term_text
from moderation.models import (Category, Direction, FeatureTerm, MatchKind, RegionPack, ReplyLanguage, ReplyLevel,
                               RiskLevel, Status, TermLanguage)
from moderation.safety_replies import MAX_TEXT_CHARS, clean_resources, clean_template_text


def _any(label):
    return [("", label)]


class TermFilterForm(forms.Form):
    category = forms.ChoiceField(label=_("Category"), required=False, choices=_any(_("All categories")) + Category.choices)
    status = forms.ChoiceField(label=_("Status"), required=False, choices=_any(_("All statuses")) + Status.choices)
    language = forms.ChoiceField(label=_("Language"), required=False,
                                 choices=_any(_("All languages")) + TermLanguage.choices)
    q = forms.CharField(label=_("Search"), required=False, max_length=100)


class FeatureTermForm(forms.Form):
    text = forms.CharField(label=_("Term or pattern"), max_length=MAX_TERM_CHARS,
                           help_text=_("Literal text is matched after normalisation (full-width, case, traditional "
                                       "characters and spacing variants). Regular expressions are matched on the "
                                       "normalised text, ignoring case."))
    match_kind = forms.ChoiceField(label=_("Match"), choices=MatchKind.choices)
    category = forms.ChoiceField(label=_("Category"), choices=Category.choices)
    level = forms.ChoiceField(label=_("Level"), choices=RiskLevel.choices)
    direction = forms.ChoiceField(label=_("Direction"), choices=Direction.choices, initial=Direction.INBOUND)
    language = forms.ChoiceField(label=_("Language"), choices=TermLanguage.choices, initial=TermLanguage.ANY)
    weight = forms.FloatField(label=_("Weight"), min_value=0.0, max_value=1.0, initial=1.0,
                              help_text=_("0 to 1; the weights of matched terms add up to the score (at most 1)."))
    note = forms.CharField(label=_("Note (source, reason)"), max_length=500, required=False)

    def __init__(self, *args, term_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.term_id = term_id

    def clean(self):
        data = super().clean()
        if "text" in data and "match_kind" in data:
            try:
                data["text"] = clean_term_text(data["text"], data["match_kind"])
            except ValidationError as error:
                self.add_error("text", error)
                return data
            duplicate = FeatureTerm.objects.exclude(status=Status.RETIRED).filter(
                text=data["text"], match_kind=data["match_kind"], category=data.get("category"),
                direction=data.get("direction")).exclude(pk=self.term_id).first()
            if duplicate is not None:
                self.add_error("text", gettext("Term #%(id)d already has this text, category and direction.")
                               % {"id": duplicate.pk})
        return data


class TemplateFilterForm(forms.Form):
    level = forms.ChoiceField(label=_("Level"), required=False, choices=_any(_("All levels")) + ReplyLevel.choices)
    language = forms.ChoiceField(label=_("Language"), required=False,
                                 choices=_any(_("All languages")) + ReplyLanguage.choices)
    region = forms.ChoiceField(label=_("Region pack"), required=False,
                               choices=_any(_("All regions")) + RegionPack.choices)
    status = forms.ChoiceField(label=_("Status"), required=False, choices=_any(_("All statuses")) + Status.choices)


def resources_as_text(resources: list[dict]) -> str:
    return "\n".join(f"{item['name']} | {item['contact']}" for item in resources)


class SafetyTemplateForm(forms.Form):
    text = forms.CharField(label=_("Reply text"), max_length=MAX_TEXT_CHARS, widget=forms.Textarea(attrs={"rows": 8}))
    resources = forms.CharField(
        label=_("Help resources"), required=False, widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("One per line: name | phone number or contact, e.g. “National psychological assistance hotline "
                    "| 12356”."))
    note = forms.CharField(label=_("Note (what changed, who reviewed the wording)"), max_length=500, required=False)

    def clean_text(self):
        return clean_template_text(self.cleaned_data["text"])

    def clean_resources(self):
        items = []
        for number, line in enumerate(self.cleaned_data["resources"].splitlines(), start=1):
            if not line.strip():
                continue
            parts = [part.strip() for part in line.replace("｜", "|").split("|")]
            if len(parts) != 2:
                raise ValidationError(gettext("Line %(number)d: write “name | contact”.") % {"number": number})
            items.append({"name": parts[0], "contact": parts[1]})
        return clean_resources(items)


class NewSafetyTemplateForm(SafetyTemplateForm):
    """The first version of a new key (level, category, language, region pack)."""
    level = forms.ChoiceField(label=_("Level"), choices=ReplyLevel.choices)
    category = forms.ChoiceField(label=_("Category"), required=False,
                                 choices=_any(_("Any category (generic)")) + Category.choices)
    language = forms.ChoiceField(label=_("Language"), choices=ReplyLanguage.choices)
    region = forms.ChoiceField(label=_("Region pack"), choices=RegionPack.choices)

    field_order = ("level", "category", "language", "region", "text", "resources", "note")


def _audit_action_choices():
    families = sorted({code.split(".")[0] for code in audit.ACTIONS})
    return (_any(_("All actions"))
            + [(f"{family}.", format_lazy("{} ({})", AUDIT_FAMILIES.get(family, family), _("all"))) for family in families]
            + [(code, label) for code, label in audit.ACTIONS.items()])


AUDIT_FAMILIES = {
    "auth": _("Sign-ins"), "role": _("Roles"), "admin": _("Admin site"), "case": _("Crisis cases"),
    "sanction": _("Sanctions"), "sanctions": _("Sanction exports"), "library": _("Feature library and replies"),
    "contact": _("Contacts"), "data": _("Data exports"), "audit": _("Audit log"),
    "complaint": _("Complaints, reports and appeals"),
}


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(label=_("Action"), required=False, choices=_audit_action_choices)
    actor = forms.CharField(label=_("Actor (user name or id)"), required=False, max_length=150)
    subject_type = forms.CharField(label=_("Subject type"), required=False, max_length=32)
    subject_id = forms.CharField(label=_("Subject id"), required=False, max_length=64)
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("since") and cleaned.get("until") and cleaned["since"] > cleaned["until"]:
            raise ValidationError(gettext("The start date is after the end date."), code="bad_range")
        return cleaned
