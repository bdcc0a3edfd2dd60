from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self):
        from allauth.mfa import signals as mfa_signals
        from django.contrib.admin.models import LogEntry
        from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
        from django.db.models.signals import m2m_changed, post_save

        from accounts import receivers
        from accounts.models import User

        user_logged_in.connect(receivers.logged_in, dispatch_uid="audit_logged_in")
        user_logged_out.connect(receivers.logged_out, dispatch_uid="audit_logged_out")
        user_login_failed.connect(receivers.login_failed, dispatch_uid="audit_login_failed")
        mfa_signals.authenticator_added.connect(receivers.mfa_added, dispatch_uid="audit_mfa_added")
        mfa_signals.authenticator_removed.connect(receivers.mfa_removed, dispatch_uid="audit_mfa_removed")
        mfa_signals.authenticator_reset.connect(receivers.mfa_reset, dispatch_uid="audit_mfa_reset")
        mfa_signals.authentication_failed.connect(receivers.mfa_failed, dispatch_uid="audit_mfa_failed")
        m2m_changed.connect(receivers.groups_changed, sender=User.groups.through, dispatch_uid="audit_groups")
        post_save.connect(receivers.admin_logged, sender=LogEntry, dispatch_uid="audit_admin_log")
