"""Back-office writes of its own: staff notes. Orders, services and customers are changed by
their apps' services; the views call those directly."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from clientarea.accounts import audit
from clientarea.accounts.models import Customer, User
from clientarea.backoffice.models import StaffNote

MAX_NOTE = 2000


class NoteError(Exception):
    pass


@transaction.atomic
def add_note(*, customer: Customer, text: str, author: User, pinned: bool = False) -> StaffNote:
    text = (text or "").strip()
    if not text:
        raise NoteError(_("Write the note."))
    if len(text) > MAX_NOTE:
        raise NoteError(_("A note has at most %(max)d characters.") % {"max": MAX_NOTE})
    note = StaffNote.objects.create(customer=customer, text=text, author=author, pinned=pinned)
    audit.record(
        action="customer.note_added",
        actor=author,
        customer=customer,
        target=f"note {note.pk}",
        changes={"pinned": pinned},
    )
    return note


@transaction.atomic
def set_note_pinned(*, note: StaffNote, pinned: bool, actor: User) -> StaffNote:
    updated = StaffNote.objects.filter(pk=note.pk).update(pinned=pinned)
    if updated:
        note.pinned = pinned
        audit.record(
            action="customer.note_pinned" if pinned else "customer.note_unpinned",
            actor=actor,
            customer=note.customer,
            target=f"note {note.pk}",
        )
    return note
