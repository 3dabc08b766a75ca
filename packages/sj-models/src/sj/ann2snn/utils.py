"""``download_url``: fetch a pretrained model file with resumption (SpikingJelly 2.0's ``ann2snn.utils``), on the
standard library only (SpikingJelly uses requests)."""

from __future__ import annotations

import http.client
import os
import re
import urllib.request
from collections.abc import Iterator
from http.client import HTTPResponse

_HEADERS = {"User-Agent": "Mozilla/5.0 (sj ann2snn)"}
_CHUNK = 1 << 16


def _open(url: str, byte_range: tuple[int, int] | None = None, method: str = "GET") -> HTTPResponse:
    headers = dict(_HEADERS)
    if byte_range is not None:
        headers["Range"] = f"bytes={byte_range[0]}-{byte_range[1]}"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers, method=method), timeout=30)


def _chunks(response: HTTPResponse) -> Iterator[bytes]:
    """The body in chunks; a connection closed early ends it (the caller compares the byte count)."""
    try:
        while chunk := response.read(_CHUNK):
            yield chunk
    except http.client.IncompleteRead as exc:
        yield exc.partial


def _is_expected_range(response: HTTPResponse, first_byte: int, size: int) -> bool:
    """A 206 answer holding exactly ``[first_byte, size)`` (a 200 answer is the whole file)."""
    if response.status == 200:
        return first_byte == 0
    match = re.match(r"bytes (\d+)-(\d+)/(\d+)", response.headers.get("Content-Range", ""), re.IGNORECASE)
    return match is not None and (int(match[1]), int(match[2]), int(match[3])) == (first_byte, size - 1, size)


def download_url(url: str, dst: str) -> int:
    """Download ``url`` to ``dst``; returns the file size in bytes.

    When the server announces the size and ``dst`` already holds its first bytes (an interrupted download), only the
    rest is requested (an HTTP range) and appended; a complete ``dst`` is left as is; a server that ignores the range
    gets the whole file again. Without a size the file is downloaded whole. Raises ``RuntimeError`` when fewer bytes
    arrive than announced, and ``urllib.error.HTTPError`` on an HTTP error status.
    """
    with _open(url) as head:
        length = head.headers.get("Content-Length")
    if length is None:
        with _open(url) as response, open(dst, "wb") as f:
            return sum(f.write(chunk) for chunk in _chunks(response))
    size = int(length)
    first_byte = os.path.getsize(dst) if os.path.exists(dst) else 0
    if first_byte >= size:
        return size
    with _open(url, (first_byte, size - 1)) as response:
        if _is_expected_range(response, first_byte, size):
            mode = "ab"
        elif response.status == 200:  # the server sent the whole file: start over
            first_byte, mode = 0, "wb"
        else:
            raise RuntimeError(f"download_url: invalid response for {url} (status {response.status}, Content-Range "
                               f"{response.headers.get('Content-Range')!r})")
        with open(dst, mode) as f:
            written = sum(f.write(chunk) for chunk in _chunks(response))
    if written != size - first_byte:
        raise RuntimeError(f"download_url: downloaded {written} bytes of {url}, but expected {size - first_byte}")
    return size
