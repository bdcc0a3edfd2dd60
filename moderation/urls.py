from django.urls import path

from moderation import views

app_name = "moderation"

urlpatterns = [
    path("", views.index, name="index"),
    path("audit/", views.audit_log, name="audit_log"),
    path("library/", views.term_list, name="term_list"),
    path("library/new/", views.term_create, name="term_create"),
    path("library/versions/", views.versions, name="versions"),
    path("library/<int:term_id>/", views.term_detail, name="term_detail"),
    path("library/<int:term_id>/edit/", views.term_edit, name="term_edit"),
    path("library/<int:term_id>/approve/", views.term_approve, name="term_approve"),
    path("library/<int:term_id>/retire/", views.term_retire, name="term_retire"),
    path("replies/", views.template_list, name="template_list"),
    path("replies/new/", views.template_create, name="template_create"),
    path("replies/<int:template_id>/", views.template_detail, name="template_detail"),
    path("replies/<int:template_id>/new-version/", views.template_new_version, name="template_new_version"),
    path("replies/<int:template_id>/edit/", views.template_edit, name="template_edit"),
    path("replies/<int:template_id>/approve/", views.template_approve, name="template_approve"),
    path("replies/<int:template_id>/retire/", views.template_retire, name="template_retire"),
]

# Public pages, mounted at the site root by companion/urls.py (the list above lives under /compliance/).
public_urlpatterns = [
    path("safety/", views.safety_protocol, name="safety_protocol"),
]
