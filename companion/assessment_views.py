"""/compliance/assessments/: personal-information impact assessments of the sensitive features
(CN-DAT-10). Compliance officers record them; regulators read; each feature shows whether it may
run now."""
import datetime as dt

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from companion import assessments
from companion.models import SensitiveFeature
from companion.staff_pages import officer_gate


class AssessmentForm(forms.Form):
    feature = forms.ChoiceField(label=_("Feature"), choices=SensitiveFeature.choices)
    summary = forms.CharField(label=_("Purpose, data and recipients"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))
    risks = forms.CharField(label=_("Risks to the people concerned"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))
    measures = forms.CharField(label=_("Protective measures"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))
    review_by = forms.DateField(label=_("Review by"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean_review_by(self):
        value = self.cleaned_data["review_by"]
        today = timezone.localdate()
        if not today < value <= today + dt.timedelta(days=assessments.REVIEW_DAYS_MAX):
            raise forms.ValidationError(_("Choose a date after today and at most three years ahead."))
        return value


@require_http_methods(["GET", "POST"])
def assessments_page(request):
    if (refused := officer_gate(request, write=request.method == "POST")) is not None:
        return refused
    form = AssessmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        assessments.record_assessment(officer=request.user, **form.cleaned_data)
        messages.success(request, gettext("Assessment recorded: the feature may run until its review date."))
        return redirect("assessments")
    return render(request, "companion/assessments.html", {
        "features": assessments.feature_status(), "form": form, "can_edit": request.can_edit})
