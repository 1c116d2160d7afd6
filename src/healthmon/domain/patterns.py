"""The name and URL rules as regular expressions, so the domain and the API schema state them once.

Each pattern is written in the subset that Python's `re` and ECMA-262 (JSON Schema's dialect, with
the `u` flag) read the same way: explicit character classes with `\\uHHHH` escapes (astral characters
written literally), no `\\d`/`\\s`/`\\w`, no flags, anchored with `^` and `$` and matched in full.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from typing import Final

NAME_MAX_LENGTH: Final = 200
URL_MAX_LENGTH: Final = 2048
DNS_LABEL_MAX_LENGTH: Final = 63
KEY_MAX_LENGTH: Final = 100

# Unicode categories Cc (controls), Cf (format: zero-width and bidirectional marks), Zl and Zp (line
# and paragraph separators) as of Python 3.11's Unicode database; a test rebuilds the list from it.
# None of them may appear in a name or a URL: each can make a log line or a screen lie.
CONTROL_CHARACTERS: Final[tuple[tuple[int, int], ...]] = (
    (0x0000, 0x001F), (0x007F, 0x009F), (0x00AD, 0x00AD), (0x0600, 0x0605), (0x061C, 0x061C),
    (0x06DD, 0x06DD), (0x070F, 0x070F), (0x0890, 0x0891), (0x08E2, 0x08E2), (0x180E, 0x180E),
    (0x200B, 0x200F), (0x2028, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F), (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x13438),
    (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F),
)  # fmt: skip
# What str.isspace() (and so str.strip()) counts as white space; a test checks it against Python.
SPACE_CHARACTERS: Final[tuple[tuple[int, int], ...]] = (
    (0x0009, 0x000D), (0x001C, 0x0020), (0x0085, 0x0085), (0x00A0, 0x00A0), (0x1680, 0x1680),
    (0x2000, 0x200A), (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000),
)  # fmt: skip


def _char(code: int) -> str:
    # Astral characters have no escape both dialects read; written as themselves they match one
    # code point in both (ECMA with the `u` flag).
    return f"\\u{code:04X}" if code <= 0xFFFF else chr(code)


def _class(ranges: Iterable[tuple[int, int]], *, also: str = "", negated: bool = True) -> str:
    # `also`: more characters, already escaped for both dialects (ECMA's `u` flag refuses `\\#`).
    parts = "".join(
        _char(first) if first == last else f"{_char(first)}-{_char(last)}" for first, last in ranges
    )
    return f"[{'^' if negated else ''}{parts}{also}]"


# Characters a URL may hold outside its host: anything but white space and controls.
_URL_CHARACTER: Final = _class((*CONTROL_CHARACTERS, *SPACE_CHARACTERS))
# A name once trimmed: it starts and ends with a visible character and holds no controls (spaces
# inside it are fine).
_NAME_EDGE: Final = _class((*CONTROL_CHARACTERS, *SPACE_CHARACTERS))
_NAME_INSIDE: Final = _class(CONTROL_CHARACTERS)
_SPACE: Final = _class(SPACE_CHARACTERS, negated=False)

NAME_PATTERN: Final = (
    f"^{_SPACE}*{_NAME_EDGE}(?:{_NAME_INSIDE}{{0,{NAME_MAX_LENGTH - 2}}}{_NAME_EDGE})?{_SPACE}*$"
)

# A host name in ASCII: dot-separated labels of 1 to 63 letters, digits, hyphens or underscores, an
# optional final dot. An international name is written in its IDNA (xn--) form.
DNS_LABEL: Final = f"[A-Za-z0-9_-]{{1,{DNS_LABEL_MAX_LENGTH}}}"
_HOST_NAME: Final = f"{DNS_LABEL}(?:\\.{DNS_LABEL})*\\.?"
_DEC_OCTET: Final = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9][0-9]|[0-9])"
_IPV4: Final = f"{_DEC_OCTET}(?:\\.{_DEC_OCTET}){{3}}"
_H16: Final = "[0-9A-Fa-f]{1,4}"


def _ipv6() -> str:
    # RFC 3986's IPv6address: eight groups of up to four hex digits, "::" standing for a run of
    # zero groups (once), and the last two groups maybe written as an IPv4 address.
    ls32 = f"(?:{_H16}:{_H16}|{_IPV4})"

    def groups(count: int) -> str:
        return f"(?:{_H16}:){{{count}}}"

    def up_to(count: int) -> str:
        return f"(?:(?:{_H16}:){{0,{count}}}{_H16})?"

    forms = [
        f"{groups(6)}{ls32}",
        f"::{groups(5)}{ls32}",
        f"(?:{_H16})?::{groups(4)}{ls32}",
        f"{up_to(1)}::{groups(3)}{ls32}",
        f"{up_to(2)}::{groups(2)}{ls32}",
        f"{up_to(3)}::{_H16}:{ls32}",
        f"{up_to(4)}::{ls32}",
        f"{up_to(5)}::{_H16}",
        f"{up_to(6)}::",
    ]
    return "(?:" + "|".join(forms) + ")"


IPV6_ADDRESS: Final = _ipv6()
_HOST: Final = f"{_HOST_NAME}|\\[{IPV6_ADDRESS}\\]"
HOST_PATTERN: Final = f"^(?:{_HOST})$"
CONTROL_CHARACTER: Final = _class(CONTROL_CHARACTERS, negated=False)
# Ports 1 to 65535, written without leading zeros.
_PORT: Final = "(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
_USERINFO_CHARACTER: Final = _class((*CONTROL_CHARACTERS, *SPACE_CHARACTERS), also="/?#@\\[\\]")

# A URL of any scheme (as apprise's are: slack://..., mailto:...): the scheme as RFC 3986 spells it
# (what urllib reads as one), a colon, then no white space or controls.
ANY_URL_PATTERN: Final = f"^[A-Za-z][A-Za-z0-9+.-]*:{_URL_CHARACTER}*$"

# Groups, in order: scheme, userinfo, host, port, path and query, fragment (ECMA has no `(?P<...>)`).
URL_PATTERN: Final = (
    "^([Hh][Tt][Tt][Pp][Ss]?)://"
    f"(?:({_USERINFO_CHARACTER}*)@)?"
    f"({_HOST})"
    f"(?::({_PORT}))?"
    f"([/?]{_URL_CHARACTER}*?)?"
    f"(#{_URL_CHARACTER}*)?$"
)

# A webserver's key, its stable identity in a file of servers: lower-case ASCII letters and digits,
# then also dots, underscores and hyphens, at most KEY_MAX_LENGTH characters in all.
KEY_PATTERN: Final = f"^[a-z0-9][a-z0-9._-]{{0,{KEY_MAX_LENGTH - 1}}}$"

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def ascii_lower(text: str) -> str:
    """The text with only its ASCII letters lower-cased: how names are searched and sorted.

    Only ASCII, because that is what SQLite's lower() (and PostgreSQL's under the C collation) folds,
    so every store finds and orders the same names.
    """
    return text.translate(_ASCII_LOWER)
