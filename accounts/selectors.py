from django.conf import settings

from accounts.models import User
from accounts.packs import UserRules, rules_for


def rules_for_user(user: User) -> UserRules:
    """The policy-pack rules that reach this user under the deployment's settings."""
    return rules_for(region=user.region, is_minor=user.is_minor, enabled=settings.POLICY_PACKS,
                     regime=settings.CN_REGIME, interval_cap_minutes=settings.COMPANION_REMINDER_INTERVAL_CAP_MINUTES)
