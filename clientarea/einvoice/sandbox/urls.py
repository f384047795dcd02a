"""Mounted at ``/sandbox/dian/`` when the DIAN simulator is on.

- ``WcfDianCustomerServices.svc``: habilitación (DIAN's ``vpfe-hab``): every operation;
- ``produccion/WcfDianCustomerServices.svc``: production (DIAN's ``vpfe``): refuses test sets;
- ``faults``: the fault switches (POST to arm one, DELETE to clear them all);
- the root: a redirect to the simulator's pages in the back office (software, ranges, test sets,
  received documents, fault switches), for people who type the address the README gives.
"""

from django.urls import path

from . import views

app_name = "dian_sandbox"

urlpatterns = [
    path("", views.index, name="index"),
    path("WcfDianCustomerServices.svc", views.service, name="service"),
    path(
        "produccion/WcfDianCustomerServices.svc",
        views.service,
        {"production": True},
        name="service_production",
    ),
    path("faults", views.fault_switches, name="faults"),
]
