"""Rendering staff-edited email templates safely, and refusing broken ones before they are saved.

A staff override is Django template source. It is rendered by its own template engine with
only the ``i18n``, ``l10n`` and ``money`` libraries, may include or extend only the email
partials in ``templates/emails/``, may use only the tags in :data:`ALLOWED_TAGS` (no ``debug``,
no ``load`` of other libraries), and sees its context through :class:`Restricted`: on any object
only the names in ``editable.ALLOWED_ATTRIBUTES`` exist.

Validation (:func:`validate`) compiles each part and renders it against a sample context in
strict mode: a variable or attribute that is not available is reported by name, so a template
with a typo is refused at save time instead of sending an email with a hole in it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import cache
from typing import Any

from django.conf import settings
from django.template import Context, Engine, TemplateSyntaxError
from django.utils import translation
from django.utils.translation import gettext as _

from clientarea.notifications.editable import ALLOWED_ATTRIBUTES, EDITABLE, SITE_VARIABLES

ALLOWED_TAGS = frozenset(
    {
        "if", "elif", "else", "endif", "for", "empty", "endfor", "with", "endwith",
        "firstof", "cycle", "spaceless", "endspaceless", "filter", "endfilter",
        "autoescape", "endautoescape", "comment", "endcomment", "now", "templatetag",
        "translate", "trans", "blocktranslate", "blocktrans", "endblocktranslate",
        "endblocktrans", "plural", "load", "include", "extends", "block", "endblock",
        "localize", "endlocalize",
    }
)  # fmt: skip
LIBRARIES = {
    "i18n": "django.templatetags.i18n",
    "l10n": "django.templatetags.l10n",
    "money": "clientarea.lib.templatetags.money",
}
_TAG = re.compile(r"{%-?\s*(\w+)([^%]*)%}")
_PARTIAL = re.compile(r"""^\s*["']emails/_[\w.-]+["']\s*$""")
_PLAIN = (str, int, float, Decimal, bool, dt.date, dt.datetime, type(None))


class TemplateRefused(ValueError):
    """A template that must not be saved, with the reasons in words for staff."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{part}: {' '.join(msgs)}" for part, msgs in errors.items()))


@cache
def engine() -> Engine:
    """The sandbox's template engine: the email partials, three tag libraries, nothing else."""
    return Engine(
        dirs=[str(d) for d in settings.TEMPLATES[0]["DIRS"]],
        app_dirs=False,
        libraries=LIBRARIES,
        builtins=[],
        autoescape=True,
    )


def check_source(source: str) -> list[str]:
    """Tags and loads a template may not use (checked before it is compiled)."""
    errors = []
    for match in _TAG.finditer(source):
        tag, rest = match.group(1), match.group(2).strip()
        if tag not in ALLOWED_TAGS:
            errors.append(
                _("The tag “%(tag)s” is not allowed in an email template.") % {"tag": tag}
            )
        elif tag == "load":
            for library in rest.split():
                if library not in LIBRARIES:
                    errors.append(
                        _("The library “%(name)s” is not available; use %(allowed)s.")
                        % {"name": library, "allowed": ", ".join(sorted(LIBRARIES))}
                    )
        elif tag in ("include", "extends") and not _PARTIAL.match(rest.split(" with ")[0]):
            errors.append(
                _(
                    "Only the email partials can be included or extended (“emails/_…”), not %(name)s."
                )
                % {"name": rest}
            )
    return errors


_BLOCK = re.compile(r"{{.*?}}|{%.*?%}", re.S)
_STRING = re.compile(r""""[^"]*"|'[^']*'""")


def check_secrets(source: str, secrets: tuple[str, ...]) -> list[str]:
    """A one-time secret may only be printed as it is (``{{ code }}``).

    The email log keeps a copy with each secret replaced; a filter or tag that transforms the
    secret (``lower``, ``slice``, ``with``) would put a variant of it in the log that the
    redaction cannot recognise.
    """
    errors = []
    for name in secrets:
        word = re.compile(rf"(?<![\w.]){re.escape(name)}(?!\w)")
        for block in _BLOCK.findall(source):
            code = _STRING.sub('""', block)  # the word inside a quoted text is just a word
            if word.search(code) and not re.fullmatch(rf"{{{{\s*{re.escape(name)}\s*}}}}", block):
                errors.append(
                    _(
                        "“%(name)s” is a one-time secret: print it only as {{ %(name)s }}, not in %(block)s."
                    )
                    % {"name": name, "block": block}
                )
    return errors


class _Recorder:
    """Collects the names a strict render asked for and could not have."""

    def __init__(self) -> None:
        self.missing: list[str] = []

    def miss(self, name: str) -> None:
        if name not in self.missing:
            self.missing.append(name)


#: Names Django's own tags look up in the context (``{% for %}`` asks for an outer ``forloop``).
_NOT_VARIABLES = frozenset({"True", "False", "None", "forloop", "block", "csrf_token"})


class _TopLevel(dict):
    """The template's variables; in strict mode, a name asked for and absent is recorded.

    Django looks a variable up in the newest context layer first (loop variables, ``with``) and
    reaches this layer only when no newer one has it. In strict mode this layer claims every
    name, so that the lookup ends here, and records the ones it does not have.
    """

    def __init__(self, values: Mapping[str, Any], recorder: _Recorder | None):
        super().__init__(values)
        self._recorder = recorder

    def __contains__(self, key: object) -> bool:
        if self._recorder is None or key in _NOT_VARIABLES:
            return super().__contains__(key)
        return True

    def __getitem__(self, key: Any) -> Any:
        if self._recorder is not None and not super().__contains__(key):
            self._recorder.miss(str(key))
        return super().__getitem__(key)


class _Manager:
    """``order.items`` in a sandbox: only ``.all`` (answered wrapped)."""

    def __init__(self, manager: Any, path: str, recorder: _Recorder | None):
        self._manager, self._path, self._recorder = manager, path, recorder

    @property
    def all(self) -> list[Any]:
        return [wrap(item, f"{self._path}.all", self._recorder) for item in self._manager.all()]


def wrap(value: Any, path: str, recorder: _Recorder | None) -> Any:
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, list | tuple):
        return [wrap(v, path, recorder) for v in value]
    if isinstance(value, Mapping):
        return {k: wrap(v, f"{path}.{k}", recorder) for k, v in value.items()}
    return Restricted(value, path, recorder)


class Restricted:
    """An object as an edited template sees it: only ``ALLOWED_ATTRIBUTES``, each value wrapped."""

    def __init__(self, obj: Any, path: str, recorder: _Recorder | None):
        self.__dict__.update(_obj=obj, _path=path, _recorder=recorder)

    def __getattr__(self, name: str) -> Any:
        path = f"{self._path}.{name}"
        if name.startswith("_") or name not in ALLOWED_ATTRIBUTES:
            if self._recorder is not None:
                self._recorder.miss(path)
            raise AttributeError(name)
        value = getattr(self._obj, name)
        if name == "items" or (hasattr(value, "all") and not isinstance(value, _PLAIN)):
            return _Manager(value, path, self._recorder)
        if callable(value):
            return _Call(value, path, self._recorder)
        return wrap(value, path, self._recorder)

    def __getitem__(self, key: Any) -> Any:
        raise KeyError(key)  # attribute access only: no dict-style lookups into objects

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(name)

    def __str__(self) -> str:
        return str(self._obj)

    def __bool__(self) -> bool:
        return bool(self._obj)

    def __eq__(self, other: object) -> bool:
        return self._obj == (other._obj if isinstance(other, Restricted) else other)

    def __hash__(self) -> int:
        return hash(self._obj)


class _Call:
    """An allowed method (``get_state_display``): called by the template, its result wrapped."""

    def __init__(self, func: Callable[[], Any], path: str, recorder: _Recorder | None):
        self._func, self._path, self._recorder = func, path, recorder

    def __call__(self) -> Any:
        return wrap(self._func(), self._path, self._recorder)


def allowed_variables(template: str) -> tuple[str, ...]:
    return (*SITE_VARIABLES, *EDITABLE[template].variables)


def render(
    source: str,
    *,
    template: str,
    context: Mapping[str, Any],
    autoescape: bool,
    recorder: _Recorder | None = None,
) -> str:
    """Render one part of an override in the sandbox (the caller sets the language)."""
    allowed = allowed_variables(template)
    values = {
        name: wrap(value, name, recorder) for name, value in context.items() if name in allowed
    }
    compiled = engine().from_string(source)
    return compiled.render(Context(_TopLevel(values, recorder), autoescape=autoescape))


PARTS = (("subject", False), ("body_text", False), ("body_html", True))


def validate(
    *, template: str, parts: Mapping[str, str], sample: Mapping[str, Any], language: str
) -> dict[str, str]:
    """Check an override's three parts: allowed tags, compiles, renders the sample with no
    unknown variable. Returns the rendered sample (the preview); raises TemplateRefused."""
    if template not in EDITABLE:
        raise TemplateRefused({"template": [_("This email template cannot be edited.")]})
    errors: dict[str, list[str]] = {}
    rendered: dict[str, str] = {}
    for part, autoescape in PARTS:
        source = parts.get(part, "")
        if not source.strip():
            errors[part] = [_("This part cannot be empty.")]
            continue
        problems = check_source(source) + check_secrets(source, EDITABLE[template].secrets)
        if problems:
            errors[part] = problems
            continue
        recorder = _Recorder()
        try:
            with translation.override(language):
                rendered[part] = render(
                    source, template=template, context=sample, autoescape=autoescape,
                    recorder=recorder,
                )  # fmt: skip
        except TemplateSyntaxError as exc:
            errors[part] = [_("The template does not compile: %(error)s") % {"error": exc}]
            continue
        except Exception as exc:  # a filter given a bad argument, a broken include
            errors[part] = [_("The template fails on the sample data: %(error)s") % {"error": exc}]
            continue
        if recorder.missing:
            errors[part] = [
                _("Unknown variable “%(name)s”. Available: %(allowed)s.")
                % {"name": name, "allowed": ", ".join(allowed_variables(template))}
                for name in recorder.missing
            ]
    if errors:
        raise TemplateRefused(errors)
    return rendered
