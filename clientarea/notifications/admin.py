from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from clientarea.notifications import services
from clientarea.notifications.models import EmailAttachment, OutgoingEmail


class AttachmentInline(admin.TabularInline):
    model = EmailAttachment
    fields = ("filename", "content_type", "size")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(admin.ModelAdmin):
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
    readonly_fields = [f.name for f in OutgoingEmail._meta.fields]
    inlines = [AttachmentInline]
    actions = ["resend"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Send again"))
    def resend(self, request, queryset):
        for email in queryset:
            services.resend_email(email=email)
        self.message_user(request, _("%(n)d email(s) queued again.") % {"n": queryset.count()})
