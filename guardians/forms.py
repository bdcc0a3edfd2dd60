from django import forms
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
    phone = forms.CharField(label=_("Mobile phone"), max_length=24, required=False,
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
        if "email" in cleaned and "phone" in cleaned and not cleaned["email"] and not cleaned["phone"]:
            raise forms.ValidationError(_("Give an email address or a mobile number, so we can reach this contact."),
                                        code="unreachable")
        return cleaned
