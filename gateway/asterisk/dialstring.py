"""Trunk templates: which number formats a dial string may use, and filling one in. Pure.

A server's ``trunk`` setting is the channel to dial with one placeholder for the callee's
number. Carriers' dialplans disagree on how a number looks, so the template picks the format:

==============  =====================================================  ===================
placeholder     what is put in                                         ``+442079460000``
==============  =====================================================  ===================
``{number}``    E.164 with its ``+`` (as before; kept for old configs)  ``+442079460000``
``{e164}``      E.164 with its ``+``                                   ``+442079460000``
``{digits}``    E.164 without the ``+`` (country code first)           ``442079460000``
``{national}``  the number as dialled inside its country, digits only  ``02079460000``
==============  =====================================================  ===================

A template holds exactly one placeholder, once: :func:`check_template` says why not, naming the
template, and runs when the settings are loaded (so a bad template stops the start with one line
and exit code 2) and again when a server is configured. :func:`fill` runs for every call; the
number is an E.164 string already validated by the caller. Nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import phonenumbers

from gateway.asterisk.errors import InvalidValue

_BRACED = re.compile(r"\{([^{}]*)\}")


def _national(number: str) -> str:
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidValue("number", f"cannot be put in national format: {exc}") from None
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return "".join(c for c in national if c.isdigit())


FORMATS: dict[str, Callable[[str], str]] = {
    "number": lambda e164: e164,
    "e164": lambda e164: e164,
    "digits": lambda e164: e164.removeprefix("+"),
    "national": _national,
}
PLACEHOLDERS = tuple(f"{{{name}}}" for name in FORMATS)


def check_template(template: str) -> str:
    """The template's one placeholder name; :class:`InvalidValue` saying why it is unusable."""
    found = _BRACED.findall(template)
    unknown = [name for name in found if name not in FORMATS]
    if unknown:
        raise InvalidValue(
            "trunk template",
            f"{template!r}: unknown placeholder {{{unknown[0]}}}; use one of "
            + ", ".join(PLACEHOLDERS),
        )
    if len(found) != 1 or "{" in _BRACED.sub("", template) or "}" in _BRACED.sub("", template):
        raise InvalidValue(
            "trunk template",
            f"{template!r} must contain exactly one of {', '.join(PLACEHOLDERS)}, once",
        )
    return str(found[0])


def fill(template: str, e164: str) -> str:
    """The dial string for one call: the template with the number in its format."""
    name = check_template(template)
    return template.replace(f"{{{name}}}", FORMATS[name](e164))
