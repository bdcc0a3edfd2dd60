from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts.models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "email", "birth_date", "region", "is_staff")
    list_filter = ("region", "is_staff", "is_superuser", "groups")
    fieldsets = DjangoUserAdmin.fieldsets + ((_("Profile"), {"fields": ("birth_date", "region", "language")}),)
