"""The customer's client area where it shows more than one app: the dashboard and the Services
pages (a service with the orders that bill it, ordering a new one), and the commands that span
every app (``run``, ``demo-data``). The top layer: it may import any app's selectors and services,
and no app imports it."""
