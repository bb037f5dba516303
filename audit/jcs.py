"""RFC 8785 (JCS) canonical JSON, written for the auditor alone.

Bundles carry no floating-point numbers and only I-JSON-safe integers (FORMAT.md), so a value
outside that subset is not "canonicalised somehow": it is refused, because another verifier could
serialise it differently and the signature would then mean nothing.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

MAX_SAFE_INTEGER = 2**53 - 1
# Deep enough for every structure the format defines (depth 3), shallow enough that hostile
# nesting is refused long before Python's recursion limit.
MAX_DEPTH = 32


class CanonicalError(ValueError):
    """The value cannot be expressed in canonical JSON (float, huge int, lone surrogate, ...)."""


_dumps: Callable[[Any], str] = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
).encode


def _check(value: Any, depth: int) -> bool:
    """Validate the JCS subset; returns True when some key needs UTF-16 ordering (non-BMP)."""
    if depth > MAX_DEPTH:
        raise CanonicalError("nested too deeply")
    t = type(value)
    if t is str or value is None or t is bool:
        return False
    if t is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return False
        raise CanonicalError("integer outside ±(2^53−1)")
    if t is list:
        special = False
        for item in value:
            special |= _check(item, depth + 1)
        return special
    if t is dict:
        special = False
        for key, item in value.items():
            if type(key) is not str:
                raise CanonicalError("object key is not a string")
            if not key.isascii() and any(ord(c) > 0xFFFF for c in key):
                special = True
            special |= _check(item, depth + 1)
        return special
    if t is float:
        raise CanonicalError("floating-point number")
    raise CanonicalError(f"not a JSON value: {t.__name__}")


def _encode_utf16_order(value: Any) -> str:
    # Only reached for keys outside the BMP, where code-point order and UTF-16 order disagree.
    if type(value) is dict:
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(_dumps(k) + ":" + _encode_utf16_order(value[k]) for k in keys) + "}"
    if type(value) is list:
        return "[" + ",".join(_encode_utf16_order(v) for v in value) + "]"
    return _dumps(value)


def canonical(value: Any) -> bytes:
    """The canonical UTF-8 bytes of `value`; raises CanonicalError outside the JCS subset."""
    special = _check(value, 0)
    text = _encode_utf16_order(value) if special else _dumps(value)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise CanonicalError("string holds a lone surrogate") from None


def without(document: dict[str, Any], *members: str) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in members}


class ParseError(ValueError):
    """The bytes are not a JSON text the auditor accepts."""


def _parse_int(text: str) -> int:
    # Checked before int(): a 100,000-digit literal must not cost quadratic time or hit
    # Python's int-string limit with an unnamed error.
    if len(text.lstrip("-")) > 16:
        raise ParseError("integer outside ±(2^53−1)")
    value = int(text)
    if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        raise ParseError("integer outside ±(2^53−1)")
    return value


def _parse_float(text: str) -> float:
    raise ParseError(f"floating-point number {text[:20]}")


def _parse_constant(text: str) -> float:
    raise ParseError(f"{text} is not JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ParseError(f"duplicate member {key[:40]!r}")
            seen.add(key)
    return result


_strict_decoder = json.JSONDecoder(
    object_pairs_hook=_no_duplicates, parse_int=_parse_int, parse_float=_parse_float,
    parse_constant=_parse_constant,
)
_fast_decoder = json.JSONDecoder(parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)


def _decode(decoder: json.JSONDecoder, data: bytes | str) -> Any:
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise ParseError(f"not UTF-8 (byte {exc.start})") from None
    try:
        return decoder.decode(text)
    except ParseError:
        raise
    except RecursionError:
        raise ParseError("nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError and int-conversion limits
        raise ParseError(str(exc).splitlines()[0][:200]) from None


def loads(data: bytes | str) -> Any:
    """Strict parse: no duplicate members, no floats, no NaN, only safe integers."""
    return _decode(_strict_decoder, data)


def loads_canonical_line(line: bytes) -> tuple[Any, bytes | None]:
    """Parse one stored line and return (value, canonical bytes if the line is not canonical).

    The fast path: a stored line should already be canonical, so re-encoding with the C encoder
    and comparing bytes both proves canonical form and lets the caller hash the line as stored.
    For a pure-ASCII line that equals its re-encoding, every key is ASCII (so code-point order is
    JCS order) and the parse hooks have already refused floats and unsafe integers. Duplicate
    members are caught by the comparison: the re-encoding keeps only one of them.
    """
    value = _decode(_fast_decoder, line)
    if line.isascii():
        try:
            if _dumps(value).encode("utf-8") == line:
                return value, None
        except (UnicodeEncodeError, RecursionError):
            pass
    try:
        encoded = canonical(value)
    except CanonicalError as exc:
        raise ParseError(str(exc)) from None
    except RecursionError:
        raise ParseError("nested too deeply") from None
    return value, (None if encoded == line else encoded)
