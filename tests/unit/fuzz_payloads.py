"""Hypothesis strategies for hostile and valid Kafka payloads, one per kind, and a seeded way to
draw thousands of them at once (the fuzz tests run Spark once over all of them, not once per
example). The kind says how a payload was made, not its verdict: validation_model decides that.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, partial

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from telemetry.schema import ValidationRules

RULES = ValidationRules()
FIELDS = ("timestamp", "id", "antenna_id", "bytes", "app")
APPS = ("SKYPE", "FACEBOOK", "WHATSAPP", "FACETIME", "TELEGRAM")
# A few devices and antennas recur, so valid events share windows and keys.
DEVICES = tuple(f"00000000-0000-0000-0000-{n:012d}" for n in range(1, 6))
ANTENNAS = tuple(f"00000000-0000-0000-0000-1{n:011d}" for n in range(3))
WHITESPACE = ("", " ", "\n", "\t", "\r\n", "  ")
SQL_TEXTS = (
    "'; DROP TABLE bytes; --",
    "Robert'); DROP TABLE quarantine;--",
    "1' OR '1'='1",
    "\\x00",
    "E'\\\\'",
    "$$;$$",
    "%s%s%n",
    "\\N",
    "\\.",
    "a\\tb",
    "NULL",
    "null",
    "{{7*7}}",
    "<script>alert(1)</script>",
    "SELECT pg_sleep(10)",
    '"quoted"',
    "back\\slash",
    "ﾟ･✿ヾ╲(｡◕‿◕｡)╱✿･ﾟ",
)


@dataclass(frozen=True)
class Frame:
    """The time the payloads are drawn for: valid-looking timestamps fall in
    [oldest, kafka_epoch + max_future_seconds]; hostile ones anywhere."""

    kafka_epoch: int
    oldest: int = RULES.min_event_epoch


Payload = bytes | None


# --- building blocks ------------------------------------------------------------------------
# Strategies are built once and reused: Hypothesis validates each new strategy object, which
# inside a composite, once per draw, costs more than the draw itself.


@cache
def _sampled(options: tuple) -> st.SearchStrategy:
    return st.sampled_from(options)


@cache
def _integers(low: int, high: int) -> st.SearchStrategy[int]:
    return st.integers(low, high)


def pick(draw, options: Sequence):
    return draw(_sampled(tuple(options)))


def integer(draw, low: int, high: int) -> int:
    return draw(_integers(low, high))


BOOLEANS = st.booleans()
TEXT_1_200 = st.text(min_size=1, max_size=200)
JSON_ALPHABET_TEXT = st.text(alphabet='{}[]:,"0123456789-+.eEtrufalsn \\u', min_size=1)
FIELD_SETS = st.sets(st.sampled_from(FIELDS), min_size=1)
EXTRA_KEYS = st.one_of(st.text(max_size=8), st.sampled_from(["x", "Bytes", "id "]))
DEPTHS = st.one_of(st.integers(1, 40), st.integers(990, 1010), st.integers(1011, 2100))
LONG_TEXT = st.text(min_size=65, max_size=300)
TAIL_TEXT = st.text(min_size=1, max_size=100)
SOME_BYTES = st.binary(min_size=1, max_size=300)


@cache
def valid_app() -> st.SearchStrategy[str]:
    printable = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"))
    return st.one_of(
        st.sampled_from(APPS),
        st.text(printable, min_size=1, max_size=RULES.max_app_length),
        st.sampled_from(SQL_TEXTS),
    )


@cache
def valid_fields(frame: Frame) -> st.SearchStrategy[dict]:
    """A valid event's fields in a random order. Hypothesis draws the app (its text is where the
    surprises are) and a seed for the rest: its cost is per draw, and ids, byte counts and
    in-frame timestamps need no shrinking or edge-case search here."""
    return st.builds(partial(_fields_from_seed, frame), st.integers(0, 2**64 - 1), valid_app())


def _fields_from_seed(frame: Frame, seed: int, app: str) -> dict:
    rng = random.Random(seed)
    newest = frame.kafka_epoch + RULES.max_future_seconds

    def some_uuid(pool: tuple[str, ...]) -> str:
        if rng.random() < 0.5:
            return rng.choice(pool)
        text = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        return text.upper() if rng.random() < 0.2 else text

    fields = {
        "timestamp": rng.choice(
            [rng.randint(frame.oldest, newest)] * 4 + [frame.oldest, newest, frame.kafka_epoch]
        ),
        "id": some_uuid(DEVICES),
        "antenna_id": some_uuid(ANTENNAS),
        "bytes": rng.choice(
            [rng.randint(0, 100_000)] * 4
            + [rng.randint(0, RULES.max_event_bytes), 0]
            + [RULES.max_event_bytes]
        ),
        "app": app,
    }
    order = rng.sample(FIELDS, len(FIELDS))
    return {name: fields[name] for name in order}


@cache
def json_values(max_leaves: int = 6) -> st.SearchStrategy[object]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=12),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
        ),
        max_leaves=max_leaves,
    )


@dataclass(frozen=True)
class Style:
    """How an object is written: spacing, \\u escapes for non-ASCII, outer whitespace."""

    ws: str
    ascii: bool
    outer: str

    def literal(self, value: object) -> str:
        return json.dumps(value, ensure_ascii=self.ascii)

    def render(self, members: list[tuple[str, str]]) -> str:
        """members: (raw key literal, raw value literal) in order, duplicates allowed."""
        ws = self.ws
        body = f"{ws},{ws}".join(f"{k}{ws}:{ws}{v}" for k, v in members)
        return f"{self.outer}{{{ws}{body}{ws}}}{self.outer}"

    def event(self, fields: dict, order: list[str] | None = None, raw: dict | None = None) -> str:
        """An object of ``fields`` (keys in ``order``); ``raw`` values are literal JSON text."""
        raw = raw or {}
        names = order or list(fields)
        return self.render(
            [
                (self.literal(n), raw[n] if n in raw else self.literal(fields[n]))
                for n in names
                if n in fields or n in raw
            ]
        )


OUTER_WHITESPACE = ("", "", " ", "\n", "\r\n\t ")
STYLES = tuple(
    Style(ws, ascii_only, outer)
    for ws in WHITESPACE
    for ascii_only in (False, True)
    for outer in OUTER_WHITESPACE
)
styles = st.sampled_from(STYLES)


def encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


# --- one strategy per kind ------------------------------------------------------------------


def valid(frame: Frame) -> st.SearchStrategy[Payload]:
    @st.composite
    def build(draw):
        return encode(draw(styles).event(draw(valid_fields(frame))))

    return build()


def broken_json(frame: Frame) -> st.SearchStrategy[Payload]:
    @st.composite
    def build(draw):
        text = draw(styles).event(draw(valid_fields(frame)))
        op = draw(
            st.sampled_from(
                [
                    "truncate",
                    "delete",
                    "insert",
                    "single_quotes",
                    "unquoted_key",
                    "trailing_comma",
                    "missing_colon",
                    "random_text",
                    "json_alphabet",
                ]
            )
        )
        i = integer(draw, 0, len(text) - 1)
        if op == "truncate":
            text = text[: max(i, 1)]
        elif op == "delete":
            text = text[:i] + text[i + 1 :]
        elif op == "insert":
            text = text[:i] + pick(draw, list("{}[]:,\"'\\ 0-e.") + ["\x00"]) + text[i:]
        elif op == "single_quotes":
            text = text.replace('"', "'")
        elif op == "unquoted_key":
            text = text.replace('"app"', "app")
        elif op == "trailing_comma":
            text = text.rstrip()[:-1] + ",}"
        elif op == "missing_colon":
            text = text.replace(":", " ", 1)
        elif op == "random_text":
            text = draw(TEXT_1_200)
        else:
            text = draw(JSON_ALPHABET_TEXT)
        return encode(text)

    return build()


def wrong_type(frame: Frame) -> st.SearchStrategy[Payload]:
    not_an_integer = st.one_of(
        st.text(max_size=10),
        st.integers(0, 2**40).map(str),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    )
    # The last ones are JSON strings whose text is a literal: Spark cannot tell them apart.
    not_a_string = st.one_of(
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.lists(st.text(max_size=3), max_size=3),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        st.sampled_from(["123", "-1.5e3", "1.0", "true", "false", "NaN", "Infinity", "+Infinity"]),
        st.sampled_from(["[SKYPE]", "{}", "{x}", "0", "-0", "1e5", "123\n", "123 ", "12a", "null"]),
    )

    @st.composite
    def build(draw):
        fields = draw(valid_fields(frame))
        name = pick(draw, FIELDS)
        wrong = not_an_integer if name in ("timestamp", "bytes") else not_a_string
        fields[name] = draw(wrong)
        return encode(draw(styles).event(fields))

    return build()


def missing_or_null(frame: Frame) -> st.SearchStrategy[Payload]:
    @st.composite
    def build(draw):
        fields = draw(valid_fields(frame))
        gone = draw(FIELD_SETS)
        how = pick(draw, ["drop", "null", "rename"])
        for name in gone:
            if how == "drop":
                del fields[name]
            elif how == "null":
                fields[name] = None
            else:
                renamed = pick(draw, [name.upper(), name.capitalize(), f"{name} ", "_"])
                fields[renamed] = fields.pop(name)
        return encode(draw(styles).event(fields))

    return build()


def extra_and_duplicate_keys(frame: Frame) -> st.SearchStrategy[Payload]:
    @st.composite
    def build(draw):
        style = draw(styles)
        fields = draw(valid_fields(frame))
        members = [(style.literal(k), style.literal(v)) for k, v in fields.items()]
        for _ in range(integer(draw, 0, 3)):  # extra keys, anywhere
            key = draw(EXTRA_KEYS)
            at = integer(draw, 0, len(members))
            members.insert(at, (style.literal(key), style.literal(draw(json_values()))))
        if draw(BOOLEANS):  # a name twice: an event field or an extra one
            name = pick(draw, [*FIELDS, "x"])
            spelled = draw(
                st.sampled_from(
                    [json.dumps(name), json.dumps(name, ensure_ascii=True).replace("a", "\\u0061")]
                )
            )
            source = pick(draw, ["same", "other", "any"])
            if source == "same":
                value = fields.get(name, 1)
            elif source == "other":
                value = draw(valid_fields(frame)).get(name, 2)
            else:
                value = draw(json_values())
            at = integer(draw, 0, len(members))
            members.insert(at, (spelled, style.literal(value)))
        return encode(style.render(members))

    return build()


def nesting(frame: Frame) -> st.SearchStrategy[Payload]:
    @st.composite
    def build(draw):
        style = draw(styles)
        fields = draw(valid_fields(frame))
        depth = draw(DEPTHS)
        opening = pick(draw, ["[", '{"a":', "[{}, "])
        closing = {"[": "]", '{"a":': "}", "[{}, ": "]"}[opening]
        nested = opening * depth + pick(draw, ["", "1", '"x"', "[]"]) + closing * depth
        where = pick(draw, ["extra", "extra", "field", "top"])
        if where == "top":
            return encode(nested)
        if where == "field":
            return encode(style.event(fields, raw={pick(draw, FIELDS): nested}))
        return encode(style.event({**fields, "deep": 0}, raw={"deep": nested}))

    return build()


def _digits(n: int) -> st.SearchStrategy[str]:
    return st.builds(
        lambda first, rest: first + rest,
        st.sampled_from("123456789"),
        st.text("0123456789", min_size=n - 1, max_size=n - 1),
    )


def _in_range(literal: str, low: int, high: int) -> bool:
    try:
        return low <= int(literal) <= high
    except ValueError:
        return False


def numbers(frame: Frame) -> st.SearchStrategy[Payload]:
    literals = st.one_of(
        st.integers(-(2**70), 2**70).map(str),
        st.sampled_from(
            [str(2**63 - 1), str(2**63), str(-(2**63)), str(-(2**63) - 1), str(10**12 + 1)]
        ),
        st.sampled_from(["-0", "0", "-1", "1e2", "1E2", "1e+2", "100.0", "1.5", "-0.0", "0.0"]),
        st.sampled_from(["1e400", "-1e400", "1e-400", "1600545000.0", "1.6e9", "2E-1"]),
        st.sampled_from(["01", "-01", "+1", ".5", "5.", "0x10", "1_000", "--1", "1e", "1e+"]),
        st.sampled_from(["NaN", "Infinity", "-Infinity", "+Infinity", "nan", "inf", "1 2"]),
        st.floats(allow_nan=False, allow_infinity=False).map(repr),
        # Long numbers around Jackson's 1000-digit limit; 1001 digits is left out (see model).
        st.sampled_from([1, 2, 18, 19, 20, 500, 998, 999, 1000, 1002, 1003, 1500])
        .flatmap(_digits)
        .flatmap(lambda d: st.sampled_from([d, "-" + d, "0." + d[1:], d[:-1] + "e1"])),
    )

    @st.composite
    def build(draw):
        fields = draw(valid_fields(frame))
        name = pick(draw, ["timestamp", "bytes", "bytes", "app", "extra"])
        literal = draw(literals)
        if name == "timestamp" and _in_range(literal, RULES.min_event_epoch, frame.oldest - 1):
            literal = str(frame.oldest)  # valid but older than the frame: not drawn
        if name == "extra":
            return encode(draw(styles).event({**fields, "n": 0}, raw={"n": literal}))
        return encode(draw(styles).event(fields, raw={name: literal}))

    return build()


def timestamps(frame: Frame) -> st.SearchStrategy[Payload]:
    limit = frame.kafka_epoch + RULES.max_future_seconds
    edges = [RULES.min_event_epoch - 1, 0, -1, -(2**63), 2**63 - 1, 2**31 - 1, 2**32]
    edges += [limit - 1, limit, limit + 1, limit + 2, limit + 86_400, 32_503_680_000]
    edges += [frame.oldest, frame.kafka_epoch]
    return st.builds(
        lambda fields, ts, style: encode(style.event({**fields, "timestamp": ts})),
        valid_fields(frame),
        st.one_of(
            st.sampled_from([e for e in edges if e < RULES.min_event_epoch or e >= frame.oldest]),
            st.integers(-(2**63), RULES.min_event_epoch - 1),
            st.integers(limit + 1, 2**63 - 1),
            st.integers(frame.oldest, limit),
        ),
        styles,
    )


def long_strings(frame: Frame) -> st.SearchStrategy[Payload]:
    chars = st.sampled_from(["A", "é", "€", "😀", "ｗ"])

    @st.composite
    def build(draw):
        style = draw(styles)
        fields = draw(valid_fields(frame))
        how = pick(draw, ["app", "app", "huge_app", "id", "pad", "pad", "oversized"])
        if how == "app":
            fields["app"] = draw(chars) * integer(draw, 60, 70)
        elif how == "huge_app":
            fields["app"] = draw(LONG_TEXT)
        elif how == "id":
            fields["id"] += draw(TAIL_TEXT)
        elif how == "pad":  # the whole payload a few bytes around max_payload_bytes
            target = RULES.max_payload_bytes + integer(draw, -4, 4)
            pad_char = draw(chars)
            room = max(target - len(encode(style.event({**fields, "pad": ""}))), 0)
            unit = len(encode(style.literal(pad_char))) - 2  # bytes per pad character
            fields["pad"] = pad_char * (room // unit) + "x" * (room % unit)
        else:
            chunk = draw(SOME_BYTES)  # repeated past the limit: large draws are slow to make
            size = RULES.max_payload_bytes + integer(draw, 1, 8000)
            return (chunk * (size // len(chunk) + 1))[:size]
        return encode(style.event(fields))

    return build()


CONTROL_ESCAPES = ["\\u0000", "\\u001f", "\\u007f", "\\u0085", "\\u009f", "\\t", "\\n", "\\b"]
RAW_ODD = ["\x7f", "\x85", "\x9f", "\u200b", "\ufeff", "\u202e", "\u2028", "\u00ad", "\x00", "\t"]
BLANKS = [" ", "\u00a0", "\u3000", "\u2028", "\u2003", "\u1680", "\u180e", "\u200b", "\u0085"]
BLANK_RUNS = st.lists(st.sampled_from(BLANKS), min_size=1)


def control_chars(frame: Frame) -> st.SearchStrategy[Payload]:
    @st.composite
    def build(draw):
        style = draw(styles)
        fields = draw(valid_fields(frame))
        how = pick(draw, ["escaped", "raw", "blank", "elsewhere"])
        if how == "blank":  # an app of nothing but (Unicode) spaces, or nearly
            fields["app"] = "".join(draw(BLANK_RUNS))
            if draw(BOOLEANS):
                fields["app"] += pick(draw, ["", "x", "\t"])
            return encode(style.event(fields))
        # Escaped, or raw: a raw C0 character makes the JSON invalid, DEL, C1 and others do not.
        token = pick(draw, CONTROL_ESCAPES if how == "escaped" else RAW_ODD)
        where = pick(draw, ["app", "key", "extra"] if how == "elsewhere" else ["app"])
        app = fields["app"]
        at = integer(draw, 0, len(app))
        if where == "app":
            inner = style.literal(app[:at])[1:-1] + token + style.literal(app[at:])[1:-1]
            return encode(style.event(fields, raw={"app": f'"{inner}"'}))
        literal = f'"{pick(draw, CONTROL_ESCAPES + RAW_ODD)}"'
        if where == "key":
            return encode(style.render([*_members(style, fields), (literal, "1")]))
        return encode(style.render([*_members(style, fields), ('"extra"', literal)]))

    return build()


def _members(style: Style, fields: dict) -> list[tuple[str, str]]:
    return [(style.literal(k), style.literal(v)) for k, v in fields.items()]


BAD_UTF8 = [
    b"\xff",
    b"\xfe",
    b"\x80",
    b"\xc0\x80",
    b"\xc1\xbf",
    b"\xe0\x80\xaf",
    b"\xed\xa0\x80",
    b"\xed\xbf\xbf",
    b"\xed\xa0\xbd\xed\xb8\x80",
    b"\xf4\x90\x80\x80",
    b"\xf5\x80\x80\x80",
    b"\xf8\x88\x80\x80\x80",
    b"\xc3",
    b"\xe2\x82",
    b"\xe9",
]


def invalid_utf8(frame: Frame) -> st.SearchStrategy[Payload]:
    @st.composite
    def build(draw):
        if integer(draw, 0, 4) == 0:
            return draw(SOME_BYTES)
        text = encode(draw(styles).event(draw(valid_fields(frame))))
        at = integer(draw, 0, len(text))
        return text[:at] + pick(draw, BAD_UTF8) + text[at:]

    return build()


SURROGATE_TOKENS = [
    "\\ud800",
    "\\udbff",
    "\\udc00",
    "\\udfff",
    "\\uD83D",
    "\\uDE00",
    "\\uD83D\\uDE00",
    "\\\\",
    "\\\\\\",
    "\\u0041",
    "a",
    "\\n",
    "\\u",
]


SURROGATE_RUNS = st.lists(st.sampled_from(SURROGATE_TOKENS), min_size=1, max_size=4)


def surrogates(frame: Frame) -> st.SearchStrategy[Payload]:
    @st.composite
    def build(draw):
        style = draw(styles)
        fields = draw(valid_fields(frame))
        inner = "".join(draw(SURROGATE_RUNS))
        where = pick(draw, ["app", "app", "key", "extra", "outside"])
        if where == "app":
            return encode(style.event(fields, raw={"app": f'"{inner}"'}))
        if where == "key":
            return encode(style.render([*_members(style, fields), (f'"{inner}"', "1")]))
        if where == "extra":
            return encode(style.render([*_members(style, fields), ('"e"', f'"{inner}"')]))
        return encode(inner)

    return build()


def empty(frame: Frame) -> st.SearchStrategy[Payload]:
    blank = st.text(alphabet=" \t\r\n", min_size=1, max_size=40)
    return st.one_of(
        st.sampled_from([None, b"", b"\x00"]),
        blank.map(encode),
        st.builds(
            lambda before, core, after: encode(before + core + after),
            blank,
            st.sampled_from(["null", "{}", "[]", '""', "\x00", "\u00a0", "\ufeff"]),
            blank,
        ),
    )


def sql_and_escapes(frame: Frame) -> st.SearchStrategy[Payload]:
    @st.composite
    def build(draw):
        style = draw(styles)
        fields = draw(valid_fields(frame))
        sql = pick(draw, SQL_TEXTS)
        where = pick(draw, ["app", "app", "app", "id", "key", "value"])
        if where in ("app", "id"):
            fields[where] = sql
            return encode(style.event(fields))
        member = (style.literal(sql), "1") if where == "key" else ('"q"', style.literal(sql))
        return encode(style.render([*_members(style, fields), member]))

    return build()


TRAILERS = [" x", "}", "]", ",1]", ",0]", "{}", ",", ":", "null", "//c", "/*c*/", "\x00", "\u00a0"]
TRAILERS += ["\u2028", "\n\n", " ", "\t", "\r\n", "]}", "}]", ',"a":1}', "'"]


def top_level_and_trailing(frame: Frame) -> st.SearchStrategy[Payload]:
    @st.composite
    def build(draw):
        event = draw(styles).event(draw(valid_fields(frame)))
        how = pick(draw, ["trailer", "trailer", "twice", "bom", "wrapped", "scalar"])
        if how == "trailer":
            return encode(event + pick(draw, TRAILERS))
        if how == "twice":
            return encode(event + pick(draw, WHITESPACE) + event)
        if how == "bom":
            return encode("\ufeff" + event)
        if how == "wrapped":
            wrapper = pick(draw, ["[{}]", "[{}, 1]", '{{"event": {}}}'])
            return encode(wrapper.format(event))
        return encode(json.dumps(draw(json_values())))

    return build()


KINDS: dict[str, Callable[[Frame], st.SearchStrategy[Payload]]] = {
    "valid": valid,
    "broken_json": broken_json,
    "wrong_type": wrong_type,
    "missing_or_null": missing_or_null,
    "extra_and_duplicate_keys": extra_and_duplicate_keys,
    "nesting": nesting,
    "numbers": numbers,
    "timestamps": timestamps,
    "long_strings": long_strings,
    "control_chars": control_chars,
    "invalid_utf8": invalid_utf8,
    "surrogates": surrogates,
    "empty": empty,
    "sql_and_escapes": sql_and_escapes,
    "top_level_and_trailing": top_level_and_trailing,
}


def draw_payloads(frame: Frame, per_kind: dict[str, int]) -> list[tuple[str, Payload]]:
    """About ``per_kind[k]`` payloads of each kind k, the same on every run: derandomized,
    Hypothesis seeds itself from the collecting function, the same one every time."""
    return [(kind, p) for kind, count in per_kind.items() for p in _draw(KINDS[kind](frame), count)]


def _draw(strategy: st.SearchStrategy[Payload], count: int, batch: int = 10) -> list[Payload]:
    drawn: list[Payload] = []

    @settings(
        max_examples=-(-count // batch),  # a list of ``batch`` per example: less engine overhead
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(strategy, min_size=batch, max_size=batch, unique=True))
    def collect(payloads: list[Payload]) -> None:
        drawn.extend(payloads)

    collect()
    return drawn
