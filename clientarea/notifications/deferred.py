"""Emails rendered when they are delivered, not in the transaction that records them.

An email whose cause is a busy transaction (the paid transaction's payment emails and alerts)
is recorded there as an outbox row that names its template and the ids of the objects it
describes (``OutgoingEmail.render_refs``), with no subject or body yet. The worker renders it
right after commit, when it delivers it (``delivery.deliver_email``: the rendered subject and
bodies are written to the row before the email is handed over, so the email log shows what was
sent); the sweep renders and delivers any that a lost job or a dead worker left behind.

Each such template has one *context builder*, registered by the app that owns the template
from its ``AppConfig.ready()`` (notifications imports no app): it reads the objects again from
the ids and returns the template's context. Because the objects are read when the email is
rendered, a builder must return only what is still true of the event the email reports, and
raise :class:`ContextGone` when it cannot (the object was deleted, or no longer is in the state
the email announces): the email then fails with that reason rather than say something false.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

#: A builder: the stored ids in, the template's context out.
ContextBuilder = Callable[[Mapping[str, Any]], Mapping[str, Any]]

_builders: dict[str, ContextBuilder] = {}


class ContextGone(Exception):
    """The objects a deferred email describes no longer say what it would say (or are gone)."""


def register_context_builder(template: str, builder: ContextBuilder) -> None:
    """Let ``template`` be queued with ids (``queue_email(refs=…)``) and rendered at delivery."""
    known = _builders.get(template)
    if known is not None and known is not builder:
        raise ValueError(f"email template {template!r} already has a context builder")
    _builders[template] = builder


def can_defer(template: str) -> bool:
    return template in _builders


def build_context(*, template: str, refs: Mapping[str, Any]) -> Mapping[str, Any]:
    """The context of a deferred email, read now from its ids (``ContextGone`` if it cannot be)."""
    builder = _builders.get(template)
    if builder is None:
        raise ContextGone(f"no context builder is registered for the template {template!r}")
    return builder(refs)
