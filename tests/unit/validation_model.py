"""A pure-Python model of the validation rules, written from the rules, not from Spark's code:
given a Kafka record's bytes and its Kafka timestamp, the reason the speed layer must give (or
None) and, for a valid event, its typed fields. The fuzz tests hold parse_events to it.

Where Spark's reader has a defensible quirk the model mirrors it, each marked MIRRORS below;
everything else is what the product requires (RFC 8259 JSON, the ValidationRules limits).
"""

from __future__ import annotations

import json
import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass

from telemetry.schema import EVENT_FIELDS, ValidationRules

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
LONG_FIELDS = ("timestamp", "bytes")
STRING_FIELDS = ("id", "antenna_id", "app")
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# MIRRORS Spark's JSON reader, which gives a string field the text of a number, boolean, array or
# object (a number beyond a double as "Infinity", quotes included): a JSON string whose text is
# such a literal cannot be told apart, so it is wrong_type too.
NON_STRING_TEXT = re.compile(
    r'\[.*\]|\{.*\}|-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?|true|false|NaN|[+-]?Infinity|"-?Infinity"',
    re.DOTALL,
)
# Unicode White_Space: an app made only of these is blank.
WHITE_SPACE = frozenset(
    [*range(0x09, 0x0E), 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B)]
    + [0x2028, 0x2029, 0x202F, 0x205F, 0x3000]
)
# MIRRORS Jackson's StreamReadConstraints (RFC 8259 section 9 lets a parser limit both): at most
# 1000 nested arrays/objects, one of which the transform's shape check adds around the payload,
# and at most 1000 digits in a number. Jackson counts a number's digits one way or another
# depending on its form (a leading "0." may not count), so a 1001-digit number is undetermined:
# the generators never draw one.
MAX_DEPTH = 999
MAX_NUMBER_DIGITS = 1000


class UndeterminedError(Exception):
    """The payload sits on a parser limit the model does not pin down; generators avoid it."""


@dataclass(frozen=True)
class Outcome:
    reason: str | None
    event: tuple | None = None  # (timestamp, id, antenna_id, bytes, app) when valid


def expected(value: bytes | None, kafka_epoch: int, rules: ValidationRules) -> Outcome:
    """The verdict on one record (``kafka_epoch``: its Kafka timestamp in whole seconds)."""
    if not value:
        return Outcome("empty_payload")
    if len(value) > rules.max_payload_bytes:
        return Outcome("payload_too_large")
    try:
        text = value.decode("utf-8")  # strict: no surrogates, overlongs or values > U+10FFFF
    except UnicodeDecodeError:
        return Outcome("invalid_utf8")
    if has_lone_surrogate_escape(text):
        return Outcome("invalid_utf8")  # a \u escape that decodes to no character
    document = parse_json(text)
    if not isinstance(document, _Object):
        return Outcome("not_json")
    if document.duplicate_names:
        return Outcome("duplicate_key")
    return _check_event(document, kafka_epoch, rules)


def _check_event(obj: _Object, kafka_epoch: int, rules: ValidationRules) -> Outcome:
    for name in EVENT_FIELDS:
        if obj.get(name) is None:
            return Outcome(f"missing_field:{name}")
    # MIRRORS the order of Spark's checks: integers that do not convert come first, then string
    # fields holding another type (which Spark only sees afterwards, in the text it got).
    for name in LONG_FIELDS:
        v = obj[name]
        if type(v) is not int or not INT64_MIN <= v <= INT64_MAX:
            return Outcome(f"wrong_type:{name}")
    for name in STRING_FIELDS:
        v = obj[name]
        if not isinstance(v, str) or NON_STRING_TEXT.fullmatch(v):
            return Outcome(f"wrong_type:{name}")
    ts, nbytes, app = obj["timestamp"], obj["bytes"], obj["app"]
    checks = [
        (nbytes < 0, "negative_bytes"),
        (nbytes > rules.max_event_bytes, "bytes_too_large"),
        (ts < rules.min_event_epoch, "absurd_timestamp"),
        (ts > kafka_epoch + rules.max_future_seconds, "future_timestamp"),
        (not UUID.fullmatch(obj["id"]), "invalid_uuid:id"),
        (not UUID.fullmatch(obj["antenna_id"]), "invalid_uuid:antenna_id"),
        (all(ord(c) in WHITE_SPACE for c in app), "empty_app"),
        (len(app) > rules.max_app_length, "app_too_long"),  # characters (code points)
        (any(_is_control(c) for c in app), "control_character:app"),
    ]
    for broken, reason in checks:
        if broken:
            return Outcome(reason)
    return Outcome(None, (ts, obj["id"], obj["antenna_id"], nbytes, app))


def _is_control(c: str) -> bool:
    return ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F


class _Object(dict):
    """A decoded JSON object that remembers whether a name occurred twice."""

    duplicate_names = False


def _object(pairs: list[tuple[str, object]]) -> _Object:
    obj = _Object(pairs)  # the last value wins, as everywhere, but see duplicate_names
    obj.duplicate_names = len(obj) != len(pairs)
    return obj


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _number(literal: str, convert):
    digits = sum(c.isdigit() for c in literal)
    if digits == MAX_NUMBER_DIGITS + 1:
        raise UndeterminedError(f"a number of {digits} digits")
    if digits > MAX_NUMBER_DIGITS:
        raise ValueError("number too long")
    return convert(literal)


_NO_VALUE = object()


def parse_json(text: str) -> object:
    """The one RFC 8259 value ``text`` holds (objects as _Object), or _NO_VALUE."""
    if nesting_depth(text) > MAX_DEPTH:
        return _NO_VALUE
    try:
        with _recursion_limit(MAX_DEPTH * 3):
            return json.loads(  # strict=True: raw control characters in strings are errors
                text,
                object_pairs_hook=_object,
                parse_constant=_reject_constant,
                parse_int=lambda s: _number(s, int),
                parse_float=lambda s: _number(s, float),
            )
    except ValueError:  # JSONDecodeError too: broken text, trailing data, a BOM...
        return _NO_VALUE


@contextmanager
def _recursion_limit(limit: int):
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(before, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


def nesting_depth(text: str) -> int:
    """The deepest nesting of [ and { outside strings (of the text as far as it is JSON)."""
    depth = deepest = 0
    in_string = escaped = False
    for c in text:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth -= 1
    return deepest


_HEX = frozenset("0123456789abcdefABCDEF")


def has_lone_surrogate_escape(text: str) -> bool:
    """Whether a \\u escape of a UTF-16 surrogate is not half of a high+low pair. Escapes are
    read left to right anywhere in the text: a backslash escapes the character after it."""
    i, n = 0, len(text)
    pending_high = False
    while i < n:
        if text[i] == "\\" and i + 1 < n:
            code = text[i + 2 : i + 6]
            if text[i + 1] == "u" and len(code) == 4 and set(code) <= _HEX:
                unit = int(code, 16)
                if pending_high:
                    if not 0xDC00 <= unit <= 0xDFFF:
                        return True
                    pending_high = False
                elif 0xD800 <= unit <= 0xDBFF:
                    pending_high = True
                elif 0xDC00 <= unit <= 0xDFFF:
                    return True
                i += 6
                continue
            i += 2
        else:
            i += 1
        if pending_high:
            return True
    return pending_high
