"""Mounted at ``/sandbox/dian/`` when the DIAN simulator is on.

- ``WcfDianCustomerServices.svc``: habilitación (DIAN's ``vpfe-hab``): every operation;
- ``produccion/WcfDianCustomerServices.svc``: production (DIAN's ``vpfe``): refuses test sets;
- ``faults``: the fault switches (POST to arm one, DELETE to clear them all).
"""

from django.urls import path

from . import views

app_name = "dian_sandbox"

urlpatterns = [
    path("WcfDianCustomerServices.svc", views.service, name="service"),
    path(
        "produccion/WcfDianCustomerServices.svc",
        views.service,
        {"production": True},
        name="service_production",
    ),
    path("faults", views.fault_switches, name="faults"),
]
