"""An incremental decoder for Server-Sent Events, as OpenAI-compatible servers send them.

Bytes go in as they arrive from the socket, split anywhere; complete events' ``data`` come
out. Lines may end in ``\\n``, ``\\r\\n`` or ``\\r``; an event ends at a blank line; several
``data:`` lines in one event are joined with ``\\n``; comments (``:``) and the ``event``,
``id`` and ``retry`` fields are ignored, since chat streams carry everything in ``data``.
"""

from __future__ import annotations

_CR = b"\r"
_LF = b"\n"


class SSEDecoder:
    """Turns a byte stream into the ``data`` payloads of its events, one ``bytes`` per event."""

    __slots__ = ("_data", "_pending")

    def __init__(self) -> None:
        self._pending = b""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[bytes]:
        """Add bytes read from the stream; return the payloads of the events they complete."""
        buffer = self._pending + chunk if self._pending else chunk
        held = b""
        if _CR in buffer:
            if buffer.endswith(_CR):  # maybe the first half of a \r\n split across reads
                buffer, held = buffer[:-1], _CR
            buffer = buffer.replace(b"\r\n", _LF).replace(_CR, _LF)
        lines = buffer.split(_LF)
        self._pending = lines.pop() + held
        return self._lines(lines)

    def close(self) -> list[bytes]:
        """End of stream: return an event left without its closing blank line, if any."""
        lines = self._pending.replace(b"\r\n", _LF).replace(_CR, _LF).split(_LF)
        self._pending = b""
        return self._lines([*lines, b""])

    def _lines(self, lines: list[bytes]) -> list[bytes]:
        events: list[bytes] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    events.append(data[0] if len(data) == 1 else _LF.join(data))
                    data = self._data = []
            elif line.startswith(b"data:"):
                value = line[5:]
                data.append(value[1:] if value.startswith(b" ") else value)
            elif line == b"data":
                data.append(b"")
        return events
