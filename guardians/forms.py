from django import forms
from django.core.validators import MaxValueValidator
from django.utils.translation import gettext_lazy as _

from guardians.models import ContactKind, ContactLanguage
from accounts.policies import normalise_phone


class ContactForm(forms.Form):
    """Field checks; the one-guardian and emergency-cap rules are the services' (they hold the lock)."""
    kind = forms.ChoiceField(label=_("Kind"), choices=ContactKind.choices, initial=ContactKind.EMERGENCY)
    name = forms.CharField(label=_("Name"), max_length=80)
    relationship = forms.CharField(label=_("Relationship"), max_length=40, required=False,
                                   help_text=_("For example: mother, friend, neighbour."))
    email = forms.EmailField(label=_("Email"), required=False,
                             widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    phone = forms.CharField(label=_("Mobile phone"), max_length=24, required=False,  # required in clean()
                            help_text=_("With country code, e.g. +86 138 0013 8000."),
                            widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}))
    language = forms.ChoiceField(label=_("Language for messages"), choices=ContactLanguage.choices)

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["kind"]  # changing kind would dodge the one-guardian and cap rules

    def clean_phone(self) -> str:
        phone = self.cleaned_data["phone"].strip()
        if not phone:
            return ""
        normalised = normalise_phone(phone)
        if normalised is None:
            raise forms.ValidationError(
                _("Enter a mobile number with its country code, e.g. +86 138 0013 8000 or +1 415 555 0100."),
                code="invalid_phone")
        return normalised

    def clean(self):
        cleaned = super().clean()
        # CN-REG-03: the code is texted to the contact; a guardian's portal invitation is emailed.
        if "phone" in cleaned and not cleaned["phone"]:
            self.add_error("phone", forms.ValidationError(
                _("Give the contact's mobile number: the confirmation code is texted there."), code="required"))
        if cleaned.get("kind") == ContactKind.GUARDIAN and "email" in cleaned and not cleaned["email"]:
            self.add_error("email", forms.ValidationError(
                _("Give your guardian's email address: the invitation to the guardian portal is sent there."),
                code="required"))
        return cleaned


class CodeForm(forms.Form):
    """The six-digit code texted to a contact (CN-REG-03)."""
    code = forms.RegexField(label=_("Code"), regex=r"^\s*\d{6}\s*$", max_length=12,
                            error_messages={"invalid": _("Enter the six-digit code.")},
                            widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code",
                                                          "size": 8}))


class GuardianLinkForm(CodeForm):
    """CN-MIN-03: the guardian proves they hold the number the minor gave and consents."""
    consent = forms.BooleanField(
        label=_("I am this person's parent or legal guardian. I have read the notice above and consent to "
                "their use of the service and to the processing of their personal information it needs."),
        error_messages={"required": _("Tick the box to give your consent, or decline below.")})


class LimitsForm(forms.Form):
    """CN-MIN-10: the guardian's daily chat minutes and rest hours for one ward (Beijing time). Empty =
    the default. Field checks only; whether the values only tighten is the service's (set_limits)."""
    daily_minutes = forms.IntegerField(
        label=_("Chat minutes a day"), required=False, min_value=0,
        help_text=_("0 turns chat off. Leave empty for the default."),
        error_messages={"max_value": _("Daily chat time can only be lowered: at most %(limit_value)s minutes."),
                        "min_value": _("Enter 0 or more minutes.")},
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "size": 5}))
    rest_start = forms.TimeField(label=_("Rest hours start"), required=False, input_formats=["%H:%M"],
                                 error_messages={"invalid": _("Enter a time as HH:MM, e.g. 21:00.")},
                                 widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}))
    rest_end = forms.TimeField(label=_("Rest hours end"), required=False, input_formats=["%H:%M"],
                               error_messages={"invalid": _("Enter a time as HH:MM, e.g. 07:00.")},
                               widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}))

    def __init__(self, *args, default_minutes: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if default_minutes is not None:
            field = self.fields["daily_minutes"]
            field.max_value = int(default_minutes)
            field.validators.append(MaxValueValidator(int(default_minutes)))
            field.widget.attrs.update(max=int(default_minutes), min=0)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("rest_start"), cleaned.get("rest_end")
        if "rest_start" in cleaned and "rest_end" in cleaned and (start is None) != (end is None):
            raise forms.ValidationError(_("Enter both rest-hour times, or leave both empty."), code="rest_incomplete")
        return cleaned


class DeleteHistoryForm(forms.Form):
    """CN-MIN-14: the guardian confirms that the ward's chat history goes for good."""
    confirm = forms.BooleanField(label=_("I understand that every conversation of this child is deleted for good "
                                         "and cannot be restored."),
                                 error_messages={"required": _("Tick the box to confirm the deletion.")})
