"""Read-only admin views: changes go through /compliance/, where the two-person rule applies
(CN-CON-03, CN-CRI-03); the admin would bypass it."""
from django.contrib import admin

from moderation.models import FeatureTerm, LibraryVersion, SafetyTemplate


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(FeatureTerm)
class FeatureTermAdmin(ReadOnlyAdmin):
    list_display = ("text", "match_kind", "category", "level", "direction", "language", "status", "author",
                    "approver", "approved_at", "seeded")
    list_filter = ("status", "category", "level", "direction", "language", "match_kind", "seeded")
    search_fields = ("text", "note")


@admin.register(SafetyTemplate)
class SafetyTemplateAdmin(ReadOnlyAdmin):
    list_display = ("region", "language", "level", "category", "version", "status", "author", "approver",
                    "approved_at", "seeded")
    list_filter = ("status", "region", "language", "level", "category", "seeded")
    search_fields = ("text", "note")


@admin.register(LibraryVersion)
class LibraryVersionAdmin(ReadOnlyAdmin):
    list_display = ("library", "number", "summary", "published_by", "published_at")
    list_filter = ("library",)
