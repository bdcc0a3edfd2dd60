"""Forms for complaints, reports and appeals: parse input; companion.complaints validates again and writes."""
from django import forms
from django.utils.translation import gettext_lazy as _

from companion.complaints import MAX_ANSWER_CHARS, MAX_TEXT_CHARS, TARGETS
from companion.models import (Character, ComplaintCategory, ComplaintKind, ComplaintOutcome, ComplaintStatus,
                              ComplaintTarget)

FILED_CATEGORIES = [choice for choice in ComplaintCategory.choices if choice[0] != ComplaintCategory.DECISION]
# Help requests (CN-ELD-05) have their own form: HelpRequestForm.
FILED_KINDS = [choice for choice in ComplaintKind.choices if choice[0] in TARGETS]


class ComplaintForm(forms.Form):
    kind = forms.ChoiceField(label=_("What do you want to do?"), choices=FILED_KINDS, widget=forms.RadioSelect)
    target = forms.ChoiceField(label=_("What is it about?"), choices=ComplaintTarget.choices)
    character = forms.ChoiceField(label=_("Character"), required=False)
    category = forms.ChoiceField(label=_("Category"), choices=FILED_CATEGORIES, required=False)
    text = forms.CharField(label=_("What happened?"), max_length=MAX_TEXT_CHARS,
                           widget=forms.Textarea(attrs={"rows": 6}))
    contact_email = forms.EmailField(label=_("Email for our answer (optional)"), required=False)
    message = forms.CharField(required=False, widget=forms.HiddenInput, max_length=64)
    sanction = forms.CharField(required=False, widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, language: str, signed_in: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["character"].choices = [("", "—")] + [
            (character.slug, character.name_for(language)) for character in Character.objects.filter(is_active=True)]
        if not signed_in:  # CN-CMP-01: reports stay open to people without an account
            self.fields["kind"].choices = [(ComplaintKind.REPORT, ComplaintKind.REPORT.label)]
            self.fields["target"].choices = [(ComplaintTarget.CHARACTER, ComplaintTarget.CHARACTER.label),
                                             (ComplaintTarget.SERVICE, ComplaintTarget.SERVICE.label)]
        else:
            del self.fields["contact_email"]  # answers go to the account's address and its status page


class StaffFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("", _("All statuses"))] + ComplaintStatus.choices)
    kind = forms.ChoiceField(label=_("Type"), required=False, choices=[("", _("All types"))] + ComplaintKind.choices)
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)


class AnswerForm(forms.Form):
    answer = forms.CharField(label=_("Answer to the person"), max_length=MAX_ANSWER_CHARS,
                             widget=forms.Textarea(attrs={"rows": 5}))


class ResolveForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=ComplaintOutcome.choices)
    answer = forms.CharField(label=_("Final answer (leave empty to keep the current one)"), required=False,
                             max_length=MAX_ANSWER_CHARS, widget=forms.Textarea(attrs={"rows": 4}))


class EscalateForm(forms.Form):
    note = forms.CharField(label=_("Why this needs more time (staff only)"), max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 3}))


class HelpRequestForm(forms.Form):
    """CN-ELD-05: "Talk to a person"; a few words are welcome but not required."""
    topic = forms.ChoiceField(label=_("What do you need help with?"), widget=forms.RadioSelect, initial="fraud",
                              choices=[("fraud", _("Money, a call or a message I am not sure about")),
                                       ("service", _("Using Haven")),
                                       ("other", _("Something else, or I just want to talk to a person"))])
    text = forms.CharField(label=_("Anything you would like to tell us first (optional)"), required=False,
                           max_length=MAX_TEXT_CHARS, widget=forms.Textarea(attrs={"rows": 3}))


class MinorAccessRequestForm(forms.Form):
    """CN-DAT-02: why a compliance officer needs to read a minor's message under this ticket."""
    reason = forms.CharField(label=_("Why you need to read it"), max_length=300)


class MinorAccessApproveForm(forms.Form):
    request = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
