from django.urls import path

from guardians import views

app_name = "guardians"

urlpatterns = [
    path("contacts/", views.contacts, name="contacts"),
    path("contacts/<int:contact_id>/edit/", views.contact_edit, name="contact_edit"),
    path("contacts/<int:contact_id>/deactivate/", views.contact_deactivate, name="contact_deactivate"),
    path("guardian/alerts/", views.guardian_alerts, name="alerts"),
]
