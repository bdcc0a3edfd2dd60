from django.contrib import admin

from guardians.models import Contact, Notification
from moderation.admin import ReadOnlyAdmin


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "user", "email", "phone", "active", "verified_at", "created_at"]
    list_filter = ["kind", "active"]
    search_fields = ["name", "email", "phone", "user__username"]
    raw_id_fields = ["user"]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    """The delivery log is evidence (CN-CRI-10, CN-CON-05): read-only here."""
    list_display = ["event_key", "user", "channel", "address", "recipient", "level", "status", "attempts",
                    "created_at", "sent_at"]
    list_filter = ["channel", "status", "level", "reason"]
    search_fields = ["event_key", "user__username", "address"]
