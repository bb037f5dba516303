"""JSON canonicalisation (RFC 8785, JCS) for what the gateway signs.

Evidence carries no floating-point numbers (counts, sizes and times are integers or strings), so
only the integer part of JCS's number rules is needed; a float is refused rather than serialised
in a way another verifier might not reproduce.
"""
from __future__ import annotations

import json
from typing import Any

_MAX_SAFE_INTEGER = 2**53 - 1  # I-JSON: beyond this, other parsers lose precision


def canonical(value: Any) -> bytes:
    return _encode(value).encode("utf-8")


def _encode(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INTEGER:
            raise ValueError("integer outside the I-JSON safe range cannot be canonicalised")
        return str(value)
    if isinstance(value, float):
        raise ValueError("floats are not allowed in signed documents")
    if isinstance(value, str):
        # json.dumps with ensure_ascii=False escapes exactly what JCS requires: quote, backslash
        # and control characters, using the short forms \b \f \n \r \t and \u00XX otherwise.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise ValueError("object keys must be strings")
        # JCS orders keys by their UTF-16 code units, not by code points.
        ordered = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(_encode(k) + ":" + _encode(value[k]) for k in ordered) + "}"
    raise ValueError(f"cannot canonicalise {type(value).__name__}")
