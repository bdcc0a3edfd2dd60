from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Region
from accounts.policies import birth_date_problem

BIRTH_DATE_ERRORS = {
    "future": _("A date of birth cannot be in the future."),
    "too_old": _("Please check the year: that date makes you older than 120."),
}


class ProfileSignupForm(forms.Form):
    """Extra sign-up fields; allauth mixes this into its own form (ACCOUNT_SIGNUP_FORM_CLASS).

    CN-REG-02: the date of birth is mandatory; the age band follows from it.
    """

    birth_date = forms.DateField(
        label=_("Date of birth"),
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}),
        help_text=_("We use it to apply protections for minors and older users."),
    )
    region = forms.ChoiceField(label=_("Region"), choices=Region.choices, initial=Region.CN)

    def clean_birth_date(self):
        birth_date = self.cleaned_data["birth_date"]
        problem = birth_date_problem(birth_date, timezone.localdate())
        if problem:
            raise forms.ValidationError(BIRTH_DATE_ERRORS[problem], code=problem)
        return birth_date

    def signup(self, request, user):
        user.birth_date = self.cleaned_data["birth_date"]
        user.region = self.cleaned_data["region"]
        user.language = getattr(request, "LANGUAGE_CODE", user.language)
        user.save(update_fields=["birth_date", "region", "language"])
