"""Redaction of secrets and personal data from what a device shares for support.

One module for both ends: the agent redacts a diagnostic bundle before it leaves the
device, and the cloud runs the very same rules over it again on arrival (defence in
depth: an old agent, a product's own HAL config, or a bug must not put a Wi-Fi key or an
owner's e-mail address in front of the service team). It lives in the agent's package
because the agent must never import the cloud; it is pure and imports nothing of it.

Two kinds of rule:

- **by key**: a value whose name looks secret (``password``, ``api_key``, ``wifi_psk``,
  ``claim_code``, ``token``...) or personal (``email``, ``phone``, ``address``...) is
  replaced whole, whatever it holds; a precise location (``latitude``, ``gps``...) is
  coarsened to one decimal (about 10 km: enough for the climate, not the house) when it
  is a number, replaced otherwise;
- **by content**, for free text such as log lines: e-mail addresses, phone numbers,
  credentials in URLs, ``password=...``-style pairs, bearer tokens, PEM blocks,
  coordinate pairs and long key-like strings are cut out of the text.

Every replacement is counted, so a bundle says how much was withheld. Redaction is
idempotent: redacting a redacted value changes nothing and counts nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeAlias

__all__ = [
    "REDACTED",
    "Redacted",
    "Value",
    "is_location_key",
    "is_personal_key",
    "is_secret_key",
    "redact",
    "redact_mapping",
    "redact_text",
]

Value: TypeAlias = "str | int | float | bool | list[Value] | dict[str, Value] | None"
"""A JSON value: what bundles, configs and cloud summaries are made of."""

REDACTED = "[redacted:{}]"
LOCATION_DECIMALS = 1

_SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "pass",
        "passphrase",
        "secret",
        "token",
        "key",
        "apikey",
        "psk",
        "credential",
        "credentials",
        "auth",
        "authorization",
        "cookie",
        "session",
        "private",
        "pin",
        "otp",
        "claim",
        "salt",
    }
)
_SECRET_PARTS = ("password", "passwd", "secret", "token", "credential", "apikey", "psk")
_PERSONAL_WORDS = frozenset(
    {
        "email",
        "mail",
        "phone",
        "mobile",
        "telephone",
        "tel",
        "msisdn",
        "address",
        "street",
        "postcode",
        "zip",
        "owner",
        "name",
        "surname",
        "birthday",
    }
)
_NOT_PERSONAL = frozenset({"hostname", "ssid", "filename", "model", "firmware"})
_LOCATION_WORDS = frozenset(
    {"lat", "latitude", "lon", "lng", "longitude", "gps", "geo", "location", "coordinates"}
)


def _words(name: str) -> list[str]:
    """``wifiPSK`` / ``wifi_psk`` / ``Wifi-PSK`` -> ``["wifi", "psk"]``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]


def is_secret_key(name: str) -> bool:
    """Whether a value called ``name`` is a secret (password, key, token, PSK...)."""
    words = _words(name)
    joined = "".join(words)
    return any(w in _SECRET_WORDS for w in words) or any(p in joined for p in _SECRET_PARTS)


def is_personal_key(name: str) -> bool:
    """Whether a value called ``name`` is personal data (e-mail, phone, address, name)."""
    words = _words(name)
    if "".join(words) in _NOT_PERSONAL:
        return False
    return any(w in _PERSONAL_WORDS for w in words)


def is_location_key(name: str) -> bool:
    return any(w in _LOCATION_WORDS for w in _words(name))


_Rule = tuple[str, "re.Pattern[str]", str, "Callable[[re.Match[str]], bool] | None"]


def _phone_digits(match: re.Match[str]) -> bool:
    """A phone number has 8 to 15 digits (E.164); fewer is a reading, not a number."""
    return 8 <= sum(c.isdigit() for c in match.group(0)) <= 15


def _key_like(match: re.Match[str]) -> bool:
    """A long token of letters and digits with few separators: a key, a token, a
    digest. Paths and identifiers with many ``/``, ``-`` or ``_`` are left alone."""
    token = match.group(0).rstrip("=")
    separators = sum(c in "+/_-" for c in token)
    letters = any(c.isalpha() for c in token)
    digits = any(c.isdigit() for c in token)
    return letters and digits and not token.startswith("/") and separators <= len(token) // 10


_TEXT_RULES: tuple[_Rule, ...] = (
    (
        "secret",
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S
        ),
        "",
        None,
    ),
    ("secret", re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/-]+=*"), "", None),
    ("secret", re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^\s/:@]+:[^\s/@]+@"), r"\1{}@", None),
    (
        "secret",
        re.compile(
            r"(?i)\b([\w.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|psk|credential"
            r"|claim[_-]?code|private[_-]?key)[\w.-]*)(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;]+)"
        ),
        r"\1\2{}",
        None,
    ),
    ("email", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"), "", None),
    (
        "location",
        re.compile(r"(?<![\w.])-?\d{1,2}\.\d{3,}\s*,\s*-?\d{1,3}\.\d{3,}(?![\w.])"),
        "",
        None,
    ),
    (
        "phone",
        re.compile(r"(?<![\w.+])\+\d{1,3}(?:[\s.-]?\(?\d{1,4}\)?){2,5}(?![\w.])"),
        "",
        _phone_digits,
    ),
    (
        "phone",
        re.compile(r"(?<![\w.])\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}(?![\w.])"),
        "",
        _phone_digits,
    ),
    ("secret", re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{40,}={0,2}"), "", _key_like),
)


def redact_text(text: str) -> tuple[str, int]:
    """``text`` with e-mail addresses, phone numbers, credentials, key-like strings and
    precise coordinates replaced by ``[redacted:<kind>]``; and how many were replaced."""
    count = 0
    for rule in _TEXT_RULES:
        text, found = _apply(rule, text)
        count += found
    return text, count


def _apply(rule: _Rule, text: str) -> tuple[str, int]:
    kind, pattern, template, accept = rule
    marker = REDACTED.format(kind)
    replacement = template.replace("{}", marker) if template else marker
    found = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal found
        if accept is not None and not accept(match):
            return match.group(0)
        expanded = match.expand(replacement)
        if expanded == match.group(0):  # a marker already there (``password=[redacted:...]``)
            return expanded  # withholds nothing, so counts nothing: the cloud's recount is 0
        found += 1
        return expanded

    return pattern.sub(replace, text), found


@dataclass(frozen=True)
class Redacted:
    """A redacted value and how many values or text spans were withheld from it."""

    value: Value
    count: int


def _is_marker(value: object) -> bool:
    return isinstance(value, str) and re.fullmatch(r"\[redacted:[a-z]+\]", value) is not None


def _by_key(name: str, value: Value) -> Redacted | None:
    """The redaction a key's name calls for, or None when its name says nothing."""
    if value is None or _is_marker(value):
        return None
    if is_secret_key(name):
        return Redacted(REDACTED.format("secret"), 1)
    if is_location_key(name):
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                return None
            coarse = round(float(value), LOCATION_DECIMALS)
            return Redacted(coarse, int(coarse != value))
        return Redacted(REDACTED.format("location"), 1)
    if is_personal_key(name):
        return Redacted(REDACTED.format("personal"), 1)
    return None


def redact(value: Value, key: str | None = None) -> Redacted:
    """Redact a JSON value, recursively; ``key`` is the name it is stored under (its
    name alone may make it secret). Keys of mappings are kept, values are redacted."""
    if key is not None:
        by_key = _by_key(key, value)
        if by_key is not None:
            return by_key
    if isinstance(value, str):
        text, count = redact_text(value)
        return Redacted(text, count)
    if isinstance(value, list):
        parts = [redact(item, key) for item in value]
        return Redacted([p.value for p in parts], sum(p.count for p in parts))
    if isinstance(value, dict):
        return redact_mapping(value)
    return Redacted(value, 0)


def redact_mapping(mapping: Mapping[str, Value]) -> Redacted:
    """Redact every value of ``mapping`` by its key and content; keys that are
    themselves personal (an e-mail address used as a key) are replaced too."""
    out: dict[str, Value] = {}
    count = 0
    for name, item in mapping.items():
        safe_name, hidden = redact_text(name)
        redacted = redact(item, name)
        out[safe_name] = redacted.value
        count += hidden + redacted.count
    return Redacted(out, count)
