from django.contrib.auth import views as auth_views
from django.urls import path

from clientarea.accounts import views, views_contacts, views_twofactor

app_name = "accounts"

urlpatterns = [
    path("register/", views.register, name="register"),
    path("register/done/", views.registered, name="registered"),
    path("terms/", views.terms, name="terms"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("forgot/", views.forgot, name="forgot"),
    path("login-link/<uidb64>/<token>/", views.login_link, name="login_link"),
    path("profile/", views.profile, name="profile"),
    path("profile/password/", views.change_password, name="change_password"),
    path("security/", views_twofactor.security, name="two_factor"),
    path("security/setup/", views_twofactor.setup, name="two_factor_setup"),
    path("login/verify/", views_twofactor.verify, name="two_factor_verify"),
    path("contacts/", views_contacts.contact_list, name="contacts"),
    path("contacts/add/", views_contacts.contact_add, name="contact_add"),
    path("contacts/einvoice-email/", views_contacts.einvoice_email, name="einvoice_email"),
    path("contacts/<int:pk>/", views_contacts.contact_edit, name="contact_edit"),
    path("contacts/<int:pk>/remove/", views_contacts.contact_remove, name="contact_remove"),
    path(
        "contacts/<int:pk>/access-code/",
        views_contacts.contact_access_code,
        name="contact_access_code",
    ),
    path("profile/emails/", views_contacts.email_preferences, name="email_preferences"),
    path("emails/", views.email_list, name="emails"),
    path("emails/<int:pk>/", views.email_detail, name="email_detail"),
    path(
        "emails/<int:pk>/attachments/<int:attachment_id>/",
        views.email_attachment,
        name="email_attachment",
    ),
]
