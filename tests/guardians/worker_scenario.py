"""Steps of the worker-kill test that must run against the worker's database, in a subprocess.

    python -m tests.guardians.worker_scenario notify   # a minor at risk; prints the notification ids
    python -m tests.guardians.worker_scenario status   # prints every notification's state

Run with the real settings (DJANGO_SETTINGS_MODULE=companion.settings) and the same environment
as the worker, so the on-commit tasks go to the worker's broker.
"""
import datetime as dt
import json
import sys


def notify() -> dict:
    from django.contrib.auth.models import Group
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import Role, User
    from guardians.models import Contact, ContactKind
    from guardians.services import notify_safety_concern

    guardian = User.objects.create_user("guardian_kill", email="guardian-kill@example.net", language="zh-hans")
    guardian.groups.add(Group.objects.get_or_create(name=Role.GUARDIAN)[0])
    minor = User.objects.create_user("minor_kill", email="minor-kill@example.net", first_name="Xiaoli",
                                     birth_date=timezone.localdate() - dt.timedelta(days=13 * 366), language="en")
    Contact.objects.create(user=minor, kind=ContactKind.GUARDIAN, name="Guardian", email=guardian.email,
                           phone="+8613800138000", language="zh-hans", account=guardian)
    with transaction.atomic():
        rows = notify_safety_concern(user=minor, event_key="crisis:worker-kill", level="crisis")
    return {row.channel: row.pk for row in rows}


def status() -> list[dict]:
    from guardians.models import Notification

    return list(Notification.objects.order_by("id").values("id", "channel", "status", "attempts", "last_error"))


if __name__ == "__main__":
    import django

    django.setup()
    print(json.dumps({"notify": notify, "status": status}[sys.argv[1]]()))
