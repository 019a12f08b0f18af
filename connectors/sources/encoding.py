"""An export's text encoding: UTF-8 (BOM or not) read as it is, UTF-16 found by its BOM (or,
told ``utf-16`` without one, by its byte order), any other named with ``--encoding``
transcoded to a UTF-8 copy in the run's scratch folder."""

from __future__ import annotations

import codecs
from pathlib import Path

from connectors.errors import SourceError

HEAD_BYTES = 1 << 20
TRANSCODE_CHUNK = 1 << 22


def as_utf8(path: Path, encoding: str | None, scratch: Path) -> Path:
    """``path`` itself when it is UTF-8, else a transcoded copy in ``scratch``."""
    if encoding is not None:
        try:
            codec = codecs.lookup(encoding)
        except LookupError:
            raise SourceError(f"unknown encoding {encoding!r}") from None
        if codec.name == "utf-16":
            return _transcode(path, _utf16_order(path), scratch)
        if codec.name not in ("utf-8", "utf-8-sig"):
            return _transcode(path, codec.name, scratch)
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode text" export: UTF-16 says so in its BOM, no need to be told.
        return _transcode(path, "utf-16", scratch)
    even, odd = head[0::2].count(0), head[1::2].count(0)
    if max(even, odd) >= len(head) // 8 and min(even, odd) < max(even, odd) // 4:
        # Zero bytes are valid UTF-8, so such a file would read as text full of NULs.
        raise SourceError(
            f"{path} looks like UTF-16 without a BOM (a zero byte in every other place); "
            "pass {encoding} utf-16"
        )
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{path} is not UTF-8 (byte 0x{head[exc.start]:02x} at offset {exc.start}); "
            "pass {encoding}, e.g. {encoding} cp1252"
        ) from None
    return path


def _utf16_order(path: Path) -> str:
    """``--encoding utf-16``: its BOM says which byte order; without one (some exports leave
    it out) the text itself does: the zero high bytes of ASCII characters fall on odd
    offsets in little-endian, even ones in big-endian."""
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    even, odd = head[0::2].count(0), head[1::2].count(0)
    if max(even, odd) < len(head) // 8:
        raise SourceError(
            f"{path} does not look like UTF-16 (no BOM, hardly any ASCII); check {{encoding}}"
        )
    return "utf-16-le" if odd > even else "utf-16-be"


def _transcode(path: Path, encoding: str, scratch: Path) -> Path:
    target = scratch / f"{len(list(scratch.iterdir()))}-{path.name}.utf8.csv"
    try:
        with (
            path.open("r", encoding=encoding, newline="") as src,
            target.open("w", encoding="utf-8", newline="") as dst,
        ):
            while chunk := src.read(TRANSCODE_CHUNK):
                dst.write(chunk)
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path} is not valid {encoding} at byte {exc.start}") from None
    except UnicodeError as exc:  # a codec refusing the stream as a whole (a missing BOM)
        raise SourceError(f"{path} cannot be read as {encoding}: {exc}") from None
    return target
