from django.urls import path

from guardians import views

app_name = "guardians"

urlpatterns = [
    path("contacts/", views.contacts, name="contacts"),
    path("contacts/<int:contact_id>/edit/", views.contact_edit, name="contact_edit"),
    path("contacts/<int:contact_id>/deactivate/", views.contact_deactivate, name="contact_deactivate"),
    path("contacts/<int:contact_id>/verify/", views.contact_verify, name="contact_verify"),
    path("contacts/<int:contact_id>/resend/", views.contact_resend, name="contact_resend"),
    path("contacts/<int:contact_id>/reconfirm/", views.contact_reconfirm, name="contact_reconfirm"),
    path("contacts/skip/", views.contact_skip, name="contact_skip"),
    path("contact/<int:contact_id>/<str:token>/", views.respond, name="respond"),
    path("guardian/", views.portal, name="portal"),
    path("guardian/wards/<int:contact_id>/consent/", views.portal_consent, name="portal_consent"),
    path("guardian/wards/<int:contact_id>/characters/", views.portal_character, name="portal_character"),
    path("guardian/wards/<int:contact_id>/limits/", views.portal_limits, name="portal_limits"),
    path("guardian/wards/<int:contact_id>/usage/", views.ward_usage, name="ward_usage"),
    path("guardian/wards/<int:contact_id>/history/delete/", views.ward_history_delete, name="ward_history_delete"),
    path("guardian/alerts/", views.guardian_alerts, name="alerts"),
]
