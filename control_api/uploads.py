"""Receiving an upload: the body spooled to a temporary file, and a cap on uploads at once.

An upload is read in 256 KiB chunks into a :class:`tempfile.SpooledTemporaryFile` that moves to
disk past :data:`SPOOL_BYTES`, so a request holds at most about that much memory for its body
whatever its size (up to the configured byte limit, 413 beyond). The file is then read row by
row by :mod:`gateway.campaigns.sheets`. :class:`UploadSlots` caps the uploads one process reads
and imports at once; one more is refused at once with a 429 problem naming the cap (and
``Retry-After``), never queued in memory.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator, Iterator
from typing import IO

from aiohttp import BodyPartReader, web
from aiohttp.helpers import parse_mimetype
from aiohttp.http_exceptions import HttpProcessingError

from control_api.errors import Invalid, PayloadTooLarge, TooManyRequests, UnsupportedMedia
from gateway.campaigns import sheets

SPOOL_BYTES = 1024 * 1024
CHUNK = 256 * 1024
MAX_CONCURRENT_UPLOADS = 4


class UploadSlots:
    """At most ``size`` uploads at once in this process (one event loop: no lock needed)."""

    def __init__(self, size: int = MAX_CONCURRENT_UPLOADS) -> None:
        self.size = size
        self.used = 0

    @contextlib.contextmanager
    def take(self) -> Iterator[None]:
        if self.used >= self.size:
            raise TooManyRequests(
                f"uploads are limited to {self.size} at once per server; retry shortly",
                limit=self.size,
            )
        self.used += 1
        try:
            yield
        finally:
            self.used -= 1


async def _spool(chunks: AsyncIterator[bytes], limit: int, spool: IO[bytes]) -> None:
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"uploads are limited to {limit} bytes", limit=limit)
        spool.write(chunk)
    spool.seek(0)


async def _part_chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(CHUNK):
        yield chunk


async def _form_file(request: web.Request, limit: int, spool: IO[bytes]) -> str:
    """Spool the first file part of a ``multipart/form-data`` body; returns its kind."""
    if not parse_mimetype(request.headers.get("Content-Type", "")).parameters.get("boundary"):
        raise UnsupportedMedia("multipart/form-data needs a boundary parameter")
    try:
        form = await request.multipart()
        async for part in form:
            if isinstance(part, BodyPartReader) and part.filename is not None:
                ctype = part.headers.get("Content-Type", "")
                try:
                    kind = sheets.kind_of(ctype, part.filename)
                except sheets.SheetError as exc:
                    raise UnsupportedMedia(str(exc)) from None
                await _spool(_part_chunks(part), limit, spool)
                return kind
    except (ValueError, AssertionError, HttpProcessingError) as exc:  # a broken multipart body
        raise Invalid("file", f"the multipart body is malformed ({type(exc).__name__})") from None
    raise Invalid("file", "the form has no file part")


@contextlib.asynccontextmanager
async def received(request: web.Request, limit: int) -> AsyncIterator[tuple[str, IO[bytes]]]:
    """The upload's kind (``csv``/``xlsx``) and its body as a seekable file, removed on exit."""
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"uploads are limited to {limit} bytes", limit=limit)
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        if request.content_type == "multipart/form-data":
            kind = await _form_file(request, limit, spool)
        else:
            try:
                kind = sheets.kind_of(request.content_type, None)
            except sheets.SheetError as exc:
                raise UnsupportedMedia(str(exc)) from None
            await _spool(request.content.iter_chunked(CHUNK), limit, spool)
        yield kind, spool
