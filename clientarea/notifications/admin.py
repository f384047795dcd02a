from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from clientarea.lib.admin import ViewPageAdminMixin
from clientarea.notifications import services
from clientarea.notifications.models import EmailAttachment, OutgoingEmail


class AttachmentInline(admin.TabularInline):
    model = EmailAttachment
    fields = ("filename", "content_type", "size")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(ViewPageAdminMixin[OutgoingEmail], admin.ModelAdmin):
    list_display = [
        "created_at",
        "to_email",
        "subject",
        "template",
        "status",
        "attempts",
        "sent_at",
    ]
    list_filter = ["status", "template", "language"]
    search_fields = ["to_email", "subject", "customer__document_number"]
    date_hierarchy = "created_at"
    # The sealed copy of a secret-bearing email is never shown (the stored bodies are redacted).
    exclude = ["secret_payload"]
    readonly_fields = [f.name for f in OutgoingEmail._meta.fields if f.name != "secret_payload"]
    inlines = [AttachmentInline]
    actions = ["resend"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Send again"), permissions=["change"])
    def resend(self, request, queryset):
        sent = refused = 0
        for email in queryset:
            if email.redacted:  # its access code or login link is gone: issue a new one instead
                refused += 1
                continue
            services.resend_email(email=email)
            sent += 1
        self.message_user(request, _("%(n)d email(s) queued again.") % {"n": sent})
        if refused:
            self.message_user(
                request,
                _(
                    "%(n)d email(s) carried a one-time access code or login link and were not "
                    "sent again. Use “Send a new access code” on the customer instead."
                )
                % {"n": refused},
                level=messages.WARNING,
            )
