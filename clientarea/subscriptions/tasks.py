from django.utils.module_loading import import_string
from huey.contrib.djhuey import db_task

from clientarea.subscriptions.provisioning import ProvisioningError, build_event


@db_task(retries=6, retry_delay=60)
def deliver_provisioning_event(
    provisioner_path: str, service_ids: list[int], event: str, order_number: str = ""
) -> None:
    """Deliver one event to one provisioner; transient failures are retried by Huey."""
    payload = build_event(service_ids=service_ids, event=event, order_number=order_number)
    try:
        import_string(provisioner_path)().send(payload)
    except ProvisioningError as exc:
        if exc.permanent:
            import logging

            logging.getLogger(__name__).error(
                "provisioning %s failed permanently: %s", provisioner_path, exc
            )
            return
        raise
