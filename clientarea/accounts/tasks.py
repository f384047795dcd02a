"""Worker tasks for accounts."""

from huey.contrib.djhuey import db_task

from clientarea.accounts import services


@db_task()
def send_login_link(email: str, ip: str | None) -> None:
    """Look the address up and email a one-time login link if it belongs to a customer.

    Run by the worker so that a "forgot your access code" request costs the web process the
    same whether or not the address is registered.
    """
    services.request_login_link(email=email, ip=ip)
