from django.contrib import admin
from django.urls import include, path

from accounts.views import set_language
from companion import views
from moderation.urls import public_urlpatterns

urlpatterns = [
    path("", views.home, name="home"),
    path("chat/<slug:character_slug>/", views.chat, name="chat"),
    path("chat/<slug:character_slug>/export.json", views.export, {"file_format": "json"}, name="export_json"),
    path("chat/<slug:character_slug>/export.html", views.export, {"file_format": "html"}, name="export_html"),
    path("console/", views.console, name="console"),
    path("console/sanctions/", views.sanctions_page, name="sanctions"),
    path("console/sanctions/impose/", views.sanction_impose, name="sanction_impose"),
    path("console/sanctions/export.json", views.sanctions_export, name="sanctions_export"),
    path("console/sanctions/<uuid:sanction_id>/lift/", views.sanction_lift, name="sanction_lift"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("accounts/", include("allauth.urls")),
    path("compliance/", include("moderation.urls")),
    path("", include(public_urlpatterns)),  # /safety/: the published crisis protocol (US-CA-02)
    path("", include("guardians.urls")),
    path("admin/", admin.site.urls),
]
