"""Text from outside: the encoding of an import file, and what a name or an address may contain.

Excel on Chinese Windows writes CSV in GBK / GB18030; "CSV UTF-8" has a byte-order mark; other tools write
UTF-8 without one. :func:`decode_import` decides between exactly these, strictly (no replacement characters):
UTF-8 first (with or without BOM), then GB18030 (a superset of GBK and GB2312). Anything else is refused with
the line of the first byte that fits neither, never guessed.

:func:`unsafe_text_reason` is the rule for names and addresses: no NUL or other control characters, no
bidirectional overrides / isolates / marks (they make ``ABC`` display as ``CBA`` on a bill or a work order),
no U+FFFD (the trace of an earlier lossy conversion).

Pure: bytes and strings in, strings or reasons out.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
REPLACEMENT = "\ufffd"
#: Unicode private-use areas (category Co): where GB18030's user-defined byte ranges decode to
_PRIVATE_USE = re.compile("[\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd]")

#: Bidirectional formatting characters: embeddings/overrides U+202A-U+202E, isolates U+2066-U+2069, the
#: left-to-right / right-to-left marks U+200E/U+200F and the Arabic letter mark U+061C.
BIDI_CONTROLS = frozenset(
    [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
    + ["\u200e", "\u200f", "\u061c"]
)


class EncodingUndecided(ValueError):
    """The bytes are neither UTF-8 nor GB18030 text (or hold something no text file holds)."""

    def __init__(
        self,
        name: str,
        reason: str,
        *,
        line: int | None = None,
        code: str = "",
        params: Mapping[str, str] | None = None,
    ) -> None:
        self.name, self.reason, self.line = name, reason, line
        #: A reason code and its parameters, for pages that say it in the user's language (``reason`` is the
        #: English line the CLI and the API print).
        self.code, self.params = code, dict(params or {})
        where = f" line {line}" if line is not None else ""
        super().__init__(f"{name}{where}: {reason}")


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str  # "utf-8", "utf-8-sig" or "gb18030"


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _line_of_char(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


_SAVE_AS = "save it from Excel as 'CSV UTF-8' or 'CSV' (GB18030)"


def decode_import(data: bytes, *, name: str, allow_replacement: bool = False) -> DecodedText:
    """The text of an import file: strict UTF-8 (BOM optional), else strict GB18030.

    Raises :class:`EncodingUndecided` naming the line when neither decodes, when the file is UTF-16/UTF-32,
    when it holds a NUL character, or (unless ``allow_replacement``: the caller checks cell by cell) when the
    decoded text holds U+FFFD.
    """
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        raise EncodingUndecided(name, f"UTF-32 text is not accepted: {_SAVE_AS}", code="utf32")
    if data.startswith(_UTF16_BOMS):
        raise EncodingUndecided(
            name, f"UTF-16 text ('Unicode text') is not accepted: {_SAVE_AS}", code="utf16"
        )
    if data.startswith(UTF8_BOM):
        try:
            decoded = DecodedText(data[len(UTF8_BOM) :].decode("utf-8"), "utf-8-sig")
        except UnicodeDecodeError as exc:
            at = exc.start + len(UTF8_BOM)
            raise EncodingUndecided(
                name,
                f"starts with a UTF-8 byte-order mark but byte 0x{data[at]:02X} is not UTF-8",
                line=_line_of(data, at),
                code="bom_not_utf8",
                params={"byte": f"0x{data[at]:02X}"},
            ) from None
    else:
        try:
            decoded = DecodedText(data.decode("utf-8"), "utf-8")
        except UnicodeDecodeError as utf8_error:
            try:
                decoded = DecodedText(data.decode("gb18030"), "gb18030")
            except UnicodeDecodeError as gb_error:
                u, g = utf8_error.start, gb_error.start
                raise EncodingUndecided(
                    name,
                    "cannot tell the text encoding: neither UTF-8 "
                    f"(byte 0x{data[u]:02X} on line {_line_of(data, u)}) nor GB18030 "
                    f"(byte 0x{data[g]:02X} on line {_line_of(data, g)}); {_SAVE_AS}",
                    line=_line_of(data, max(u, g)),  # the encoding that read further is the likely one
                    code="encoding_undecided",
                    params={
                        "utf8_byte": f"0x{data[u]:02X}",
                        "utf8_line": str(_line_of(data, u)),
                        "gb_byte": f"0x{data[g]:02X}",
                        "gb_line": str(_line_of(data, g)),
                    },
                ) from None
            found = _PRIVATE_USE.search(decoded.text)
            if found is not None:
                pua = found.start()
                # GB18030's user-defined areas: no Chinese text uses them; the bytes were something else.
                raise EncodingUndecided(
                    name,
                    "cannot tell the text encoding: not UTF-8, and read as GB18030 it holds a private-use "
                    f"character (U+{ord(decoded.text[pua]):04X}); {_SAVE_AS}",
                    line=_line_of_char(decoded.text, pua),
                    code="private_use",
                    params={"char": f"U+{ord(decoded.text[pua]):04X}"},
                ) from None
    nul = decoded.text.find("\x00")
    if nul >= 0:
        raise EncodingUndecided(
            name,
            "holds a NUL character: not a text file",
            line=_line_of_char(decoded.text, nul),
            code="nul",
        )
    if not allow_replacement:
        bad = decoded.text.find(REPLACEMENT)
        if bad >= 0:
            raise EncodingUndecided(
                name,
                "holds the replacement character U+FFFD (text already damaged by an earlier conversion)",
                line=_line_of_char(decoded.text, bad),
                code="replacement",
            )
    return decoded


@dataclass(frozen=True)
class UnsafeCharacter:
    kind: str  # "bidi", "replacement", "control" or "surrogate"
    code: str  # "U+202E"


def find_unsafe_character(value: str) -> UnsafeCharacter | None:
    """The first character that may not be in a name or an address, or None.

    Refused: control characters (NUL, tab, line breaks, DEL, C1), bidirectional formatting characters,
    surrogates, U+FFFD.
    """
    for ch in value:
        code = f"U+{ord(ch):04X}"
        if ch in BIDI_CONTROLS:
            return UnsafeCharacter("bidi", code)
        if ch == REPLACEMENT:
            return UnsafeCharacter("replacement", code)
        category = unicodedata.category(ch)
        if category == "Cc":
            return UnsafeCharacter("control", code)
        if category == "Cs":
            return UnsafeCharacter("surrogate", code)
    return None


_REASONS = {
    "bidi": "contains the bidirectional control character {code}",
    "replacement": "contains the replacement character {code} (text damaged by a wrong encoding)",
    "control": "contains the control character {code}",
    "surrogate": "contains an unpaired surrogate {code}",
}


def unsafe_text_reason(value: str) -> str | None:
    """Why ``value`` may not be a name or an address (:func:`find_unsafe_character`), or None when it may."""
    found = find_unsafe_character(value)
    return None if found is None else _REASONS[found.kind].format(code=found.code)


def log_text(data: bytes) -> str:
    """Raw bytes from outside (a callback body) as text to keep in a log: UTF-8 where it is, every other byte
    as ``\\xNN``, NUL as ``\\x00`` (PostgreSQL refuses NUL in text) and a literal U+FFFD as ``\\ufffd`` — so
    what is stored is exactly what was received, never a replacement character."""
    text = data.decode("utf-8", errors="backslashreplace")
    return text.replace("\x00", "\\x00").replace(REPLACEMENT, "\\ufffd")
