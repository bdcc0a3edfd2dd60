"""Forms for service notices and outage statements: parse input; companion.notices validates again and writes."""
from django import forms
from django.utils.translation import gettext_lazy as _

from companion.models import Character, NoticeKind
from companion.notices import MAX_TEXT_CHARS, MAX_TITLE_CHARS

LOCAL_DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def _text(label):
    return forms.CharField(label=label, max_length=MAX_TEXT_CHARS, widget=forms.Textarea(attrs={"rows": 4}))


class ScheduleNoticeForm(forms.Form):
    kind = forms.ChoiceField(label=_("Announces"), choices=NoticeKind.choices)
    character = forms.ChoiceField(label=_("About"), required=False)
    effective_at = forms.DateTimeField(label=_("Takes effect"), widget=LOCAL_DATETIME)
    resumes_at = forms.DateTimeField(label=_("Service resumes (suspensions only)"), required=False,
                                     widget=LOCAL_DATETIME)
    title_zh = forms.CharField(label=_("Title (Chinese)"), max_length=MAX_TITLE_CHARS)
    title_en = forms.CharField(label=_("Title (English)"), max_length=MAX_TITLE_CHARS)
    body_zh = _text(_("Notice (Chinese)"))
    body_en = _text(_("Notice (English)"))

    def __init__(self, *args, language: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["character"].choices = [("", _("The whole service"))] + [
            (character.slug, character.name_for(language)) for character in Character.objects.filter(is_active=True)]


class IncidentForm(forms.Form):
    started_at = forms.DateTimeField(label=_("Outage began"), widget=LOCAL_DATETIME)
    title_zh = forms.CharField(label=_("Title (Chinese)"), max_length=MAX_TITLE_CHARS)
    title_en = forms.CharField(label=_("Title (English)"), max_length=MAX_TITLE_CHARS)
    statement_zh = _text(_("Statement (Chinese)"))
    statement_en = _text(_("Statement (English)"))


class ResolveIncidentForm(forms.Form):
    note_zh = _text(_("Incident note (Chinese)"))
    note_en = _text(_("Incident note (English)"))
