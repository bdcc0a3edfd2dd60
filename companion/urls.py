from django.contrib import admin
from django.urls import include, path

from accounts.views import legal, phone_verification, privacy_centre, profile, reconsent, set_language
from companion import assessment_views, complaint_views, elderly_views, minor_mode_views, notice_views, privacy_views, views, wallet_views
from companion.regulator import site as regulator_site
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
    # CN-DAT-07, CN-REG-01: the privacy centre, the re-consent screen and the published policies.
    path("privacy/", privacy_centre, name="privacy"),
    path("privacy/consents/", reconsent, name="reconsent"),
    path("privacy/profile/", profile, name="profile"),  # CN-DAT-09: correct one's details
    # CN-DAT-04/05/09, BX-10: copy and delete one's data.
    path("privacy/data/", privacy_views.data_page, name="privacy_data"),
    path("privacy/data/export/", privacy_views.request_export, name="privacy_export"),
    path("privacy/data/export/<uuid:public_id>/", privacy_views.download_export, name="privacy_export_download"),
    path("privacy/data/conversations/<uuid:public_id>/", privacy_views.conversation_page,
         name="privacy_conversation"),
    path("privacy/data/conversations/<uuid:public_id>/delete/", privacy_views.delete_conversation,
         name="privacy_delete_conversation"),
    path("privacy/data/messages/<uuid:public_id>/delete/", privacy_views.delete_message,
         name="privacy_delete_message"),
    path("privacy/data/conversations/delete/", privacy_views.delete_everything, name="privacy_delete_all"),
    path("privacy/data/close-account/", privacy_views.close_account, name="privacy_close_account"),
    path("privacy/minor-mode/", minor_mode_views.minor_mode_page, name="minor_mode"),  # CN-MIN-05/06
    path("compliance/minor-appeals/", minor_mode_views.staff_list, name="minor_appeal_staff_list"),
    path("compliance/minor-appeals/<uuid:public_id>/", minor_mode_views.staff_detail, name="minor_appeal_staff_detail"),
    path("compliance/minor-appeals/<uuid:public_id>/decide/", minor_mode_views.staff_decide,
         name="minor_appeal_staff_decide"),
    path("compliance/assessments/", assessment_views.assessments_page, name="assessments"),  # CN-DAT-10
    path("compliance/minors-audit/", minor_mode_views.minors_audit_page, name="minors_audit"),  # CN-MIN-15
    path("legal/<slug:document>/", legal, name="legal"),
    # CN-REG-04: the texted code after sign-up, before allauth's own accounts/ paths.
    path("accounts/phone/", phone_verification, name="phone_verification"),
    path("accounts/", include("allauth.urls")),
    # CN-CMP-01/02: complaints, reports and appeals (public), and the compliance team's queue.
    path("help/complaints/", complaint_views.help_page, name="complaints_help"),
    path("help/complaints/new/", complaint_views.new_complaint, name="complaint_new"),
    path("help/complaints/<uuid:public_id>/", complaint_views.complaint_status, name="complaint_status"),
    path("compliance/complaints/", complaint_views.staff_list, name="complaint_staff_list"),
    path("compliance/complaints/<uuid:public_id>/", complaint_views.staff_detail, name="complaint_staff_detail"),
    path("compliance/complaints/<uuid:public_id>/<slug:action>/", complaint_views.staff_action,
         name="complaint_staff_action"),
    # CN-SVC-01/02: service notices and the read-only archive of an ended character, the public
    # status page, and the compliance team's notices and outage statements.
    path("notices/", notice_views.my_notices, name="my_notices"),
    path("chat/<slug:character_slug>/archive/", notice_views.archive, name="notice_archive"),
    path("chat/<slug:character_slug>/archive/export.json", notice_views.archive_export, {"file_format": "json"},
         name="notice_archive_json"),
    path("chat/<slug:character_slug>/archive/export.html", notice_views.archive_export, {"file_format": "html"},
         name="notice_archive_html"),
    path("status/", notice_views.status_page, name="status"),
    path("compliance/notices/", notice_views.staff_notices, name="notice_staff"),
    path("compliance/notices/<uuid:public_id>/cancel/", notice_views.staff_cancel, name="notice_staff_cancel"),
    path("compliance/notices/incidents/", notice_views.staff_open_incident, name="incident_staff_open"),
    path("compliance/notices/incidents/<uuid:public_id>/resolve/", notice_views.staff_resolve_incident,
         name="incident_staff_resolve"),
    # CN-REG-05, CN-ELD-04/05: the larger-text switch, the tip of the day, "Talk to a person" (60+).
    path("display/large-text/", elderly_views.large_text, name="large_text"),
    path("display/tip-seen/", elderly_views.dismiss_tip, name="dismiss_tip"),
    path("help/person/", elderly_views.help_request, name="help_request"),
    # CN-MIN-11, CN-CRI-06: the wallet, the sandbox checkout, and the guardian's spending controls per ward.
    path("wallet/", wallet_views.wallet_page, name="wallet"),
    path("wallet/top-up/", wallet_views.wallet_top_up, name="wallet_top_up"),
    path("wallet/top-up/<uuid:public_id>/return/", wallet_views.wallet_topup_return, name="wallet_topup_return"),
    path("wallet/sandbox/pay/<uuid:public_id>/", wallet_views.wallet_sandbox_pay, name="wallet_sandbox_pay"),
    path("wallet/buy/", wallet_views.wallet_buy, name="wallet_buy"),
    path("guardian/wards/<int:contact_id>/spending/", wallet_views.guardian_spending, name="guardian_spending"),
    path("guardian/wards/<int:contact_id>/spending/settings/", wallet_views.guardian_spending_settings,
         name="guardian_spending_settings"),
    path("guardian/wards/<int:contact_id>/spending/<uuid:public_id>/<slug:action>/",
         wallet_views.guardian_spending_decide, name="guardian_spending_decide"),
    path("guardian/wards/<int:contact_id>/spending/refund/<uuid:public_id>/", wallet_views.guardian_refund,
         name="guardian_refund"),
    path("compliance/", include("moderation.urls")),
    path("", include(public_urlpatterns)),  # /safety/: the published crisis protocol (US-CA-02)
    path("", include("guardians.urls")),
    path("regulator/", regulator_site.urls),  # CN-GOV-06, BX-09: read-only review for regulator accounts
    path("admin/", admin.site.urls),
]
