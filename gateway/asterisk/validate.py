"""Input safety: every value that goes into an AMI action or an ARI request is checked here.

AMI is a line protocol: a CR or LF inside a value ends the header and lets the rest of the value
inject new headers or whole actions. NUL and other control characters confuse Asterisk's parser
and its logs. Past the line protocol, Asterisk splits values again: an Originate ``Variable:``
header is split on commas (``DIALER_QUEUE=sales,DIALER_CONNECT_TIMEOUT=600`` sets two variables),
application arguments on ``,`` and ``|``, and ``$``/``{ }``/``( )``/``;`` start expressions,
functions and comments in the dialplan. So every value that reaches Asterisk follows a strict
grammar: names (queue, context, server, application) are short tokens with no spaces or
separators (:data:`NAME_PATTERN`), channel-variable values are tokens
(:data:`VARIABLE_VALUE`), caller-ID names are text without separators or quotes
(:data:`CALLER_ID_NAME_PATTERN`), and a filled-in trunk template is a dial token.

The control API checks the same patterns (they are JSON-Schema-compatible regular expressions,
imported by ``control_api.bodies``) and answers 422 naming the field; this module checks again at
the edge, because not every value comes through the API (configuration, the CLI, stored rows
written before the rule). Every check raises :class:`gateway.asterisk.errors.InvalidValue` naming
the field, before any byte is written. This module is pure: no I/O, no state.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from gateway.asterisk import dialstring
from gateway.asterisk.errors import InvalidValue

_CONTROL = re.compile(r"[\x00-\x1f\x7f\x80-\x9f\u2028\u2029]")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_ATTEMPT_ID = re.compile(r"[0-9a-f]{32}")
SEPARATORS = ",|();${}"  # Asterisk's argument separators and expression characters
_NAME_BODY = r"[A-Za-z0-9][A-Za-z0-9_.@/+:-]{0,79}"
NAME_PATTERN = f"^{_NAME_BODY}$"
OPTIONAL_NAME_PATTERN = f"^({_NAME_BODY})?$"  # a name, or "" for none
CALLER_ID_NAME_PATTERN = r'^[^\u0000-\u001f\u007f-\u009f\u2028\u2029,|();${}"<>\\]{0,64}$'
_NAME = re.compile(_NAME_BODY)
REASON_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"  # a pause reason code (also a metric label)
_REASON = re.compile(REASON_PATTERN)
# an agent: a queue member's name (``Agent 101``) or, without one, its interface
# (``PJSIP/agent-101``): a name that may also hold single inner spaces
_AGENT_BODY = r"[A-Za-z0-9](?: ?[A-Za-z0-9_.@/+:-]){0,79}"  # and at most 80 characters
AGENT_PATTERN = f"^{_AGENT_BODY}$"
_AGENT = re.compile(_AGENT_BODY)
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
VARIABLE_VALUE = re.compile(r"[A-Za-z0-9_.@/+:=-]{0,256}")
_CALLER_ID_NAME = re.compile(CALLER_ID_NAME_PATTERN)
_DIAL = re.compile(r"[A-Za-z0-9_.@/+:#*-]{1,160}")
MAX_TEXT = 256


def text(field: str, value: str, *, max_len: int = MAX_TEXT) -> str:
    """Free text (a caller-ID name, a variable value): no control characters, bounded length."""
    if not isinstance(value, str):
        raise InvalidValue(field, f"expected text, got {type(value).__name__}")
    bad = _CONTROL.search(value)
    if bad is not None:
        raise InvalidValue(field, f"control character {bad.group()!r} at {bad.start()} refused")
    if len(value) > max_len:
        raise InvalidValue(field, f"longer than {max_len} characters")
    return value


def e164(field: str, value: str) -> str:
    """A phone number in E.164 (``+15551234567``)."""
    text(field, value, max_len=16)
    if _E164.fullmatch(value) is None:
        raise InvalidValue(field, f"not an E.164 number: {value!r}")
    return value


def caller_id_name(value: str) -> str:
    """A caller-ID name: text without quotes or angle brackets (they delimit the CallerID) and
    without Asterisk's separators; spaces are fine (Asterisk does not split the CallerID on them).
    """
    text("caller_id_name", value, max_len=64)
    if any(c in value for c in '"<>\\'):
        raise InvalidValue("caller_id_name", "quotes, backslashes and angle brackets are refused")
    if _CALLER_ID_NAME.fullmatch(value) is None:
        raise InvalidValue("caller_id_name", f"none of {SEPARATORS!r} is allowed")
    return value


def is_attempt_id(value: str) -> bool:
    """Whether ``value`` has an attempt id's form (a gateway's caller channel ``Uniqueid``, set
    by the Originate's ``ChannelId``; Asterisk's own uniqueids are ``<epoch>.<n>``)."""
    return _ATTEMPT_ID.fullmatch(value) is not None


def attempt_id(value: str) -> str:
    """An attempt id: ``uuid4().hex`` (32 lowercase hex characters)."""
    text("attempt_id", value, max_len=32)
    if not is_attempt_id(value):
        raise InvalidValue("attempt_id", "expected 32 lowercase hex characters")
    return value


def name(field: str, value: str) -> str:
    """A queue, context, application or server name: a short token, no spaces."""
    text(field, value, max_len=80)
    if _NAME.fullmatch(value) is None:
        raise InvalidValue(field, f"not a valid name: {value!r}")
    return value


def reason_code(value: str) -> str:
    """A pause reason code (``lunch``, ``break``, ``training``): a short slug, no spaces."""
    text("reason", value, max_len=32)
    if _REASON.fullmatch(value) is None:
        raise InvalidValue("reason", f"not a reason code (letters, digits, _ . -): {value!r}")
    return value


def agent(field: str, value: str) -> str:
    """An agent id as attempts and queue events carry it: a name that may hold single spaces
    between its words (no leading, trailing or double space), none of Asterisk's separators."""
    text(field, value, max_len=80)
    if _AGENT.fullmatch(value) is None:
        raise InvalidValue(field, f"not a valid agent id: {value!r}")
    return value


def member_interface(value: str) -> str:
    """A queue member's interface an agent-only callback dials (``PJSIP/agent-101``,
    ``Local/101@agents/n``): a name (no spaces, no separators) that is also a channel-variable
    token, without ``&`` (Dial's list separator) or ``^`` (its option-argument separator)."""
    name("agent_interface", value)
    variable("DIALER_AGENT_INTERFACE", value)
    if "/" not in value:
        raise InvalidValue("agent_interface", f"not a channel interface (TECH/resource): {value!r}")
    return value


def variable(key: str, value: str) -> tuple[str, str]:
    """A channel variable ``KEY=value``; the value is a token (Asterisk splits it on commas)."""
    text("variable name", key, max_len=64)
    if _VAR_NAME.fullmatch(key) is None:
        raise InvalidValue("variable name", f"not a valid variable name: {key!r}")
    text(f"variable {key}", value)
    if VARIABLE_VALUE.fullmatch(value) is None:
        raise InvalidValue(f"variable {key}", "not a valid value: spaces and separators refused")
    return key, value


def ring_timeout(value: float) -> float:
    """The ring timeout in seconds: at least 15 (the regulatory minimum), at most 300."""
    if not 15.0 <= value <= 300.0:
        raise InvalidValue("ring_timeout_s", f"must be from 15 to 300 seconds, got {value}")
    return value


def dial_string(template: str, number: str) -> str:
    """The channel to dial: the trunk template with the number in the format it names.

    The formats (``{number}``, ``{e164}``, ``{digits}``, ``{national}``) are in
    :mod:`gateway.asterisk.dialstring`; the result is checked like any other value.
    """
    e164("number", number)
    text("trunk template", template, max_len=128)
    dial = text("dial string", dialstring.fill(template, number), max_len=160)
    if _DIAL.fullmatch(dial) is None:
        raise InvalidValue("trunk template", "spaces, '&' and Asterisk separators are refused")
    return dial


# The one function assignment an Originate carries: the outcome ledger's hangup handler
# (gateway.asterisk.calls.ledger), its commas escaped so that Asterisk does not split it.
LEDGER_PUSH_HEADER = "CHANNEL(hangup_handler_push)=dialer-hangup\\,s\\,1"


# one ``Variable:`` header that :func:`variable` accepts: a name, ``=``, a token (the name cannot
# hold ``=``, so the first ``=`` is the one :func:`header_values` splits on)
_VARIABLE_HEADER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}=[A-Za-z0-9_.@/+:=-]{0,256}")


def _plain_headers(headers: Sequence[tuple[str, str]]) -> bool:
    """True only for headers that every check of :func:`header_values` passes: no control
    character anywhere (one search over all of them), within the lengths, each ``Variable``
    the ledger's constant or a ``KEY=token``. False says nothing: the full checks decide."""
    try:
        joined = "".join(itertools.chain.from_iterable(headers))
    except TypeError:  # not text: the full checks name the field
        return False
    # printable ASCII holds none of _CONTROL's characters (a quicker test than the search)
    if not (joined.isascii() and joined.isprintable()) and _CONTROL.search(joined) is not None:
        return False
    for key, value in headers:
        if len(key) > 64 or len(value) > 1024:
            return False
        if (
            key.lower() == "variable"
            and value != LEDGER_PUSH_HEADER
            and _VARIABLE_HEADER.fullmatch(value) is None
        ):
            return False
    return True


def header_values(headers: Sequence[tuple[str, str]]) -> None:
    """Last line of defence: check every header of an AMI action before it is serialised.

    The common case (every header fine) is settled by one pass (:func:`_plain_headers`); any
    doubt runs every check one by one, which raises naming the field."""
    if _plain_headers(headers):
        return
    for key, value in headers:
        text("AMI header name", key, max_len=64)
        text(f"AMI header {key}", value, max_len=1024)
        if key.lower() == "variable" and value == LEDGER_PUSH_HEADER:
            continue  # a constant of the gateway's own, never built from input
        if key.lower() == "variable":  # Asterisk splits it on commas: one KEY=token each
            name_, _, val = value.partition("=")
            variable(name_, val)
