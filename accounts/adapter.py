"""allauth behaviour for this service, swapped in by ACCOUNT_ADAPTER (STYLE.md §11)."""
from urllib.parse import urlencode

from allauth.account.adapter import DefaultAccountAdapter
from django.urls import reverse

from accounts.consents import missing_for_chat


class AccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request):
        """CN-REG-01: after a new version of the terms or privacy policy, the accept screen comes
        first at the next sign-in, then wherever the person was going."""
        target = super().get_login_redirect_url(request)
        if request.user.is_authenticated and missing_for_chat(request.user):
            return reverse("reconsent") + "?" + urlencode({"next": target})
        return target
