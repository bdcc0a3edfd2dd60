"""Forms of the sanctions page (CN-CRI-09): parse input; companion.sanctions validates again and writes."""
import re

from django import forms
from django.utils.translation import gettext, gettext_lazy as _

from accounts.models import User
from companion.models import SanctionKind
from companion.sanctions import MAX_REASON_CHARS, MAX_SUSPEND_DAYS

STATUS_CHOICES = [("", _("All")), ("active", _("Active")), ("lifted", _("Lifted")), ("ended", _("Ended"))]


class SanctionFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False, choices=STATUS_CHOICES)
    kind = forms.ChoiceField(label=_("Measure"), required=False,
                             choices=[("", _("All measures"))] + SanctionKind.choices)


class ImposeSanctionForm(forms.Form):
    username = forms.CharField(label=_("User name"), required=False, max_length=150)
    case = forms.UUIDField(label=_("Or safety case id"), required=False)
    kind = forms.ChoiceField(label=_("Measure"), choices=SanctionKind.choices)
    days = forms.IntegerField(label=_("Days"), required=False, min_value=1, max_value=MAX_SUSPEND_DAYS,
                              help_text=_("Required for a suspension; optional for a restriction; "
                                          "empty for a termination."))
    reason = forms.CharField(label=_("Reason"), max_length=MAX_REASON_CHARS, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text=_("Shown to the user in the notice, and kept in the record."))
    evidence = forms.CharField(label=_("Evidence"), widget=forms.Textarea(attrs={"rows": 3}),
                               help_text=_("Ids of the user's messages or safety cases, one per line."))

    def clean(self):
        data = super().clean()
        username, case = (data.get("username") or "").strip(), data.get("case")
        if bool(username) == bool(case):
            raise forms.ValidationError(gettext("Name either the user or the safety case, one of the two."))
        if username:
            user = User.objects.filter(username=username).first()
            if user is None:
                self.add_error("username", gettext("No user with this name."))
            else:
                data["user_id"] = user.pk
        if "evidence" in data:
            data["evidence"] = [item for item in re.split(r"[\s,;]+", data["evidence"]) if item]
        return data


class LiftSanctionForm(forms.Form):
    reason = forms.CharField(label=_("Reason for lifting"), max_length=MAX_REASON_CHARS)
