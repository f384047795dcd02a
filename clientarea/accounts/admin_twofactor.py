"""Back office: who has two-factor login, and turning it off for someone who lost their phone.

django-otp's own admin pages edit devices directly (secrets included) and do not audit; ours
list them read-only, and the one action goes through ``twofactor.reset_two_factor``.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from clientarea.accounts import twofactor
from clientarea.accounts.models import AuthenticatorApp, RecoveryCodes
from clientarea.lib.http import client_ip

for model in (TOTPDevice, StaticDevice):  # replaced by the proxies below
    if admin.site.is_registered(model):
        admin.site.unregister(model)


class DeviceAdmin(admin.ModelAdmin):
    list_display = ["owner", "device_name", "created", "last_used", "is_confirmed"]
    list_select_related = ["user"]
    search_fields = ["user__email"]
    actions = ["turn_off"]

    @admin.display(description=_("User"), ordering="user__email")
    def owner(self, obj):
        return obj.user.email

    @admin.display(description=_("Name"))
    def device_name(self, obj):
        return obj.name

    @admin.display(description=_("Created"), ordering="created_at")
    def created(self, obj):
        return obj.created_at

    @admin.display(description=_("Last used"), ordering="last_used_at")
    def last_used(self, obj):
        return obj.last_used_at

    @admin.display(description=_("Confirmed"), boolean=True)
    def is_confirmed(self, obj):
        return obj.confirmed

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_turn_off_permission(self, request):
        """Turning two-factor off is deleting the user's devices: the model's delete permission."""
        return request.user.has_perm(f"{self.opts.app_label}.delete_{self.opts.model_name}")

    @admin.action(
        description=_("Turn off two-factor login for these users (lost phone)"),
        permissions=["turn_off"],
    )
    def turn_off(self, request, queryset):
        users = {device.user for device in queryset.select_related("user")}
        for user in users:
            twofactor.reset_two_factor(
                user=user,
                reason="lost device (back office)",
                actor=request.user,
                ip=client_ip(request),
            )
        count = len(users)
        self.message_user(
            request,
            ngettext(
                "Two-factor login turned off for %(count)d user.",
                "Two-factor login turned off for %(count)d users.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )


admin.site.register(AuthenticatorApp, DeviceAdmin)
admin.site.register(RecoveryCodes, DeviceAdmin)
