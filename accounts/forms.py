from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.validators import RegexValidator
from django.db import transaction
from django.utils import timezone
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, gettext_lazy as _

from accounts.consents import record_consents
from accounts.identity import CODE_DIGITS, PhoneVerificationRefused, checked_phone, send_phone_code
from accounts.models import Region
from accounts.policies import birth_date_problem, resident_id_birth_date

BIRTH_DATE_ERRORS = {
    "future": _("A date of birth cannot be in the future."),
    "too_old": _("Please check the year: that date makes you older than 120."),
}


def phone_field() -> forms.CharField:
    return forms.CharField(label=_("Mobile number"), max_length=24,
                           widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
                           help_text=_("We text you a code to confirm it. Mainland mobiles may leave out +86; "
                                       "other numbers need their country code."))


class ProfileSignupForm(forms.Form):
    """Extra sign-up fields; allauth mixes this into its own form (ACCOUNT_SIGNUP_FORM_CLASS).

    CN-REG-02: the date of birth is mandatory; the age band follows from it. CN-REG-04: so is a
    mobile number, verified by a texted code before the first chat.
    """

    birth_date = forms.DateField(
        label=_("Date of birth"),
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}),
        help_text=_("We use it to apply protections for minors and older users."),
    )
    region = forms.ChoiceField(label=_("Region"), choices=Region.choices, initial=Region.CN)
    phone = phone_field()
    # CN-REG-01, CN-DAT-07: the agreement and the separate sensitive-information consent are each
    # their own box; the training opt-in (CN-DAT-06) is separate again and starts unticked.
    accept_terms = forms.BooleanField(
        label=_("I accept the terms of service and the privacy policy"),
        error_messages={"required": _("You need to accept the terms and the privacy policy to use the service.")})
    accept_sensitive = forms.BooleanField(
        label=_("I agree that my chats, which may include feelings and health, are processed to provide the service "
                "and keep me safe"),
        error_messages={"required": _("Chatting needs this consent: a companion cannot work without reading what "
                                      "you write.")})
    allow_training = forms.BooleanField(label=_("Optional: my chats may be used, without my name, to improve the "
                                                "models"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["accept_terms"].help_text = format_html(
            gettext('Read the <a href="{terms}" target="_blank">terms of service</a> and the '
                    '<a href="{privacy}" target="_blank">privacy policy</a>.'),
            terms=reverse("legal", args=["terms"]), privacy=reverse("legal", args=["privacy"]))

    def clean_birth_date(self):
        birth_date = self.cleaned_data["birth_date"]
        problem = birth_date_problem(birth_date, timezone.localdate())
        if problem:
            raise forms.ValidationError(BIRTH_DATE_ERRORS[problem], code=problem)
        return birth_date

    def clean(self):
        """The number is checked before allauth saves anything: a bad, taken or flooded number
        leaves no half-made account behind."""
        cleaned_data = super().clean()
        if cleaned_data.get("phone") and cleaned_data.get("region"):
            try:
                cleaned_data["phone"] = checked_phone(cleaned_data["phone"], region=cleaned_data["region"])
            except PhoneVerificationRefused as refusal:
                self.add_error("phone", forms.ValidationError(str(refusal), code=refusal.reason))
        return cleaned_data

    def signup(self, request, user):
        user.birth_date = self.cleaned_data["birth_date"]
        user.region = self.cleaned_data["region"]
        user.language = getattr(request, "LANGUAGE_CODE", user.language)
        user.age_band_recorded = user.age_band.value  # the daily job records moves from here on
        with transaction.atomic():
            user.save(update_fields=["birth_date", "region", "language", "age_band_recorded"])
            record_consents(user=user, source="signup", granted={
                "terms": True, "privacy": True, "sensitive": True,
                "training": self.cleaned_data.get("allow_training", False)})
        try:
            send_phone_code(user=user, phone=self.cleaned_data["phone"])
        except PhoneVerificationRefused as refusal:
            # Lost a race since `clean` (the number verified elsewhere, or its hourly cap reached):
            # the code page, where sign-up lands, says why and asks for a number.
            messages.error(request, str(refusal))


class PhoneNumberForm(forms.Form):
    """Another number, or the same again, on the code page (CN-REG-04); identity checks it."""
    phone = phone_field()


class PhoneCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"), max_length=12,
        validators=[RegexValidator(rf"^\d{{{CODE_DIGITS}}}$", _("The code is the 6 digits in the text message."))],
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "autofocus": True}))


class ConsentForm(forms.Form):
    """One checkbox per purpose; `purposes` limits the form (the re-consent screen shows only
    what is missing, plus the optional training opt-in)."""

    def __init__(self, *args, states, purposes=None, **kwargs):
        super().__init__(*args, **kwargs)
        for state in states:
            if purposes is not None and state.purpose not in purposes:
                continue
            self.fields[state.purpose] = forms.BooleanField(
                label=state.label, required=False, initial=state.granted,
                help_text=CONSENT_HELP[state.purpose])


CONSENT_HELP = {
    "terms": _("The service agreement: what we provide and the rules for using it. Needed to chat."),
    "privacy": _("How we handle your personal information. Needed to chat."),
    "sensitive": _("What you tell a companion about your feelings and health is sensitive personal information. "
                   "We process it only to run your chats and keep you safe. Needed to chat."),
    "training": _("Optional. Lets us use your chats, without your name, to improve the models. Off unless you turn "
                  "it on; you can turn it off at any time. Never used for anyone under 18."),
}


class ProfileForm(forms.Form):
    """CN-DAT-09: what a person corrects themselves. The date of birth, region and mobile number decide
    protections (minor mode, policy packs, real identity), so they are corrected on request, with proof."""
    first_name = forms.CharField(label=_("Name shown to you and your contacts"), max_length=150, required=False,
                                 help_text=_("Your contacts see it in safety messages. Leave empty to use your "
                                             "user name."))
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)

    def clean_first_name(self) -> str:
        name = " ".join(self.cleaned_data["first_name"].split())
        if any(ord(char) < 32 for char in name):
            raise forms.ValidationError(_("Use letters, spaces and punctuation only."), code="control")
        return name


class MinorModeAppealForm(forms.Form):
    """CN-MIN-06: why minor mode is wrong, with a resident ID number as the real-name check (required
    for mainland accounts, whose birth dates the ID can confirm). The number itself is never stored."""

    explanation = forms.CharField(label=_("Why minor mode is wrong for you"), max_length=2000,
                                  widget=forms.Textarea(attrs={"rows": 4}))
    id_number = forms.CharField(label=_("Resident ID number"), max_length=24, required=False,
                                widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}),
                                help_text=_("18 characters. We check that it is valid and that its date of "
                                            "birth is the one on your account, then keep only the last four "
                                            "characters."))

    def __init__(self, *args, region: str = Region.CN, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["id_number"].required = region == Region.CN

    def clean_id_number(self):
        number = self.cleaned_data["id_number"].strip().upper().replace(" ", "")
        if not number:
            self.id_birth_date = None
            return ""
        self.id_birth_date = resident_id_birth_date(number)
        if self.id_birth_date is None:
            raise forms.ValidationError(_("This is not a valid resident ID number: check every character."))
        return number


class MinorAppealDecisionForm(forms.Form):
    """A compliance officer's decision on a suspected minor's appeal (CN-MIN-06)."""

    decision = forms.ChoiceField(label=_("Decision"), choices=[
        ("grant", _("Grant: end minor mode")), ("refuse", _("Refuse: minor mode stays on"))],
        widget=forms.RadioSelect)
    note = forms.CharField(label=_("Note to the person"), max_length=2000, required=False,
                           widget=forms.Textarea(attrs={"rows": 3}),
                           help_text=_("Needed to grant an appeal whose ID check did not match: say what "
                                       "proved the age."))
