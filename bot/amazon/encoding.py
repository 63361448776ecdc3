"""The text of an uploaded report file, whatever Seller Central (or Excel) saved it in.

UTF-8 (with or without BOM), UTF-16 (with BOM, or without one when the NULs say so),
UTF-32 with BOM, Windows-1252 (EU), CP932 / Windows-31J (JP) or ISO-8859-1. What is not
text at all (a zip, an xlsx, a pdf, an image, control bytes) is refused as such, so the
person is told to upload the .txt report instead.
"""

from __future__ import annotations

import re

from bot.domain import Refusal
from bot.refusal_codes import FileCode

__all__ = ["decode_report"]

_MAGIC = (
    b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08",  # zip, xlsx, docx, ods
    b"%PDF", b"\x89PNG", b"GIF87a", b"GIF89a", b"\xff\xd8\xff",  # pdf, png, gif, jpeg
    b"\xd0\xcf\x11\xe0",  # old Office (xls, doc)
    b"\x1f\x8b", b"BZh", b"7z\xbc\xaf\x27\x1c", b"Rar!", b"\xfd7zXZ",  # archives
    b"RIFF", b"\x7fELF", b"II*\x00", b"MM\x00*", b"\x00\x00\x01\x00",
    b"SQLite format 3",
)  # fmt: skip

# C0 control bytes that never occur in a text report (tab, LF, FF, CR and ESC spared).
_CTRL = bytes([*range(0x01, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20), 0x7F])
_BLANK = b" \t\r\n\x0c\xef\xbb\xbf"
_CTRL_TEXT_RE = re.compile("[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")
# Kana, CJK punctuation and full-width forms: a Windows-1252 file read as CP932 almost
# never produces these (their lead bytes 0x81-0x83 are rare punctuation in 1252 text).
_JP_STRONG_RE = re.compile("[\u3000-\u30ff\uff01-\uff5e]")
_KANJI_RUN_RE = re.compile("[\u4e00-\u9fff\uf900-\ufaff]{2,}")
_C1_BYTES = bytes(b for b in range(0x80, 0xA0) if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D))
_LETTER_BYTES = bytes(b for b in range(0xC0, 0x100) if b not in (0xD7, 0xF7))


def _control_share_too_high(sample: bytes) -> bool:
    controls = len(sample) - len(sample.translate(None, _CTRL))
    return controls > 0 and controls * 100 > len(sample)


def _utf16_without_bom(data: bytes) -> tuple[str, str] | None:
    """UTF-16 text saved without BOM: NULs at every other byte of mostly-ASCII text."""
    sample = data[:4096]
    if len(sample) < 4 or len(sample) % 2:
        return None
    half = len(sample) // 2
    even_nul = sample[0::2].count(0)
    odd_nul = sample[1::2].count(0)
    if odd_nul >= 0.9 * half and even_nul == 0:
        codec = "utf-16-le"
    elif even_nul >= 0.9 * half and odd_nul == 0:
        codec = "utf-16-be"
    else:
        return None
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        return None
    if "\t" not in text or _CTRL_TEXT_RE.search(text):
        return None
    return text, codec


def _decode_bom(data: bytes, codec: str, name: str) -> tuple[str, str]:
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        raise Refusal(FileCode.file_encoding) from None
    if _CTRL_TEXT_RE.search(text):
        raise Refusal(FileCode.file_binary)
    return text, name


def decode_report(data: bytes) -> tuple[str, str]:
    """The text of a report file and the encoding it was read with.

    Raises ``Refusal(FileCode.file_empty)``, ``Refusal(FileCode.file_binary)`` (NUL or control bytes,
    or a zip/xlsx/pdf/image signature) or ``Refusal(FileCode.file_encoding)``.
    """
    if not data or not data[:4096].strip(_BLANK) and not data.strip(_BLANK):
        raise Refusal(FileCode.file_empty)
    # Byte-order marks first: UTF-16/32 text is full of NUL bytes.
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return _decode_bom(data, "utf-32", "utf-32")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text, name = _decode_bom(data, "utf-16", "utf-16")
        if not text.strip():
            raise Refusal(FileCode.file_empty)
        return text, name
    if data.startswith(_MAGIC):
        raise Refusal(FileCode.file_binary)
    if b"\x00" in data:
        found = _utf16_without_bom(data)
        if found is None:
            raise Refusal(FileCode.file_binary)
        return found
    if _control_share_too_high(data[:65536]):
        raise Refusal(FileCode.file_binary)
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            raise Refusal(FileCode.file_encoding) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    return _decode_legacy(data)


def _decode_legacy(data: bytes) -> tuple[str, str]:
    """Not UTF-8: CP932 (JP), Windows-1252 (EU) or ISO-8859-1, by plausibility."""
    sample = data[:262144].decode("utf-8", errors="replace")
    damaged = sample.count("\ufffd")
    valid_extra = len(sample.encode("utf-8")) - len(sample) - 2 * damaged
    if valid_extra >= 4 and valid_extra >= 8 * damaged:
        # Mostly valid UTF-8 with a few broken bytes: a damaged (truncated, mixed) UTF-8
        # file. Reading it as anything else would turn all its text into mojibake.
        raise Refusal(FileCode.file_encoding)
    try:
        t932: str | None = data.decode("cp932")
    except UnicodeDecodeError:
        t932 = None
    # Kana, CJK punctuation or full-width forms: Japanese (see _JP_STRONG_RE).
    if t932 is not None and _JP_STRONG_RE.search(t932):
        return t932, "cp932"
    try:
        t1252: str | None = data.decode("cp1252")
    except UnicodeDecodeError:
        t1252 = None
    if t932 is not None:
        if t1252 is None:
            return t932, "cp932"
        if _KANJI_RUN_RE.search(t932):
            # Kanji only: Japanese read as 1252 is mostly C1 punctuation (ƒ ‚ “ † ...),
            # while a 1252 file that happens to be valid CP932 shows accented letters.
            glyphs = len(data) - len(data.translate(None, _C1_BYTES))
            letters = len(data) - len(data.translate(None, _LETTER_BYTES))
            if glyphs > letters:
                return t932, "cp932"
    if t1252 is not None:
        return t1252, "cp1252"
    # Only bytes 0x81 0x8D 0x8F 0x90 0x9D are undefined in 1252: a few strays are read as
    # ISO-8859-1; many mean the file is in an encoding we do not read.
    undefined = sum(data.count(b) for b in (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d"))
    if undefined * 1000 <= len(data):
        return data.decode("iso-8859-1"), "iso-8859-1"
    raise Refusal(FileCode.file_encoding)
