from django.contrib import admin

from companion.models import Character, Conversation


@admin.register(Character)
class CharacterAdmin(admin.ModelAdmin):
    list_display = ("slug", "role", "name_zh", "name_en", "is_active", "sort_order")
    list_filter = ("role", "is_active")
    search_fields = ("slug", "name_zh", "name_en")


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    """Metadata only: staff do not read chat content here."""
    list_display = ("public_id", "user", "character", "mode", "created_at", "updated_at", "archived_at")
    list_filter = ("mode", "character")
    readonly_fields = ("public_id", "user", "character", "created_at", "updated_at")
