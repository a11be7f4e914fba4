"""Progress of long work on a terminal: bytes, records and rate on one line of stderr.

Shown only when the stream is a terminal (`isatty()`): piped or redirected output stays
clean. The line is redrawn in place (carriage return) at most every `interval` seconds and
ended with a newline by `done()`.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

MIB = 1024 * 1024


class ByteProgress:
    """`update(bytes, records)` as work advances; `done()` once at the end."""

    def __init__(
        self,
        label: str,
        total_bytes: int,
        *,
        stream: TextIO | None = None,
        interval: float = 0.2,
        clock=time.monotonic,
    ):
        self.label = label
        self.total = total_bytes
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval
        self._clock = clock
        self._started = clock()
        self._last_drawn: float | None = None
        self.bytes = 0
        self.records = 0

    def update(self, done_bytes: int, records: int) -> None:
        """The totals so far (not increments)."""
        self.bytes, self.records = done_bytes, records
        now = self._clock()
        if self._last_drawn is None or now - self._last_drawn >= self.interval:
            self._draw(now)

    def done(self) -> None:
        if self.enabled and self._last_drawn is not None:
            self._draw(self._clock())
            self.stream.write("\n")
            self.stream.flush()

    def line(self, now: float) -> str:
        """What the terminal shows: `label: 12.0/48.0 MiB (25%), 1,234 records, 6.0 MiB/s`."""
        seconds = max(now - self._started, 1e-9)
        share = f" ({100 * self.bytes / self.total:.0f}%)" if self.total else ""
        return (
            f"{self.label}: {self.bytes / MIB:.1f}/{self.total / MIB:.1f} MiB{share}, "
            f"{self.records:,} records, {self.bytes / MIB / seconds:.1f} MiB/s"
        )

    def _draw(self, now: float) -> None:
        self._last_drawn = now
        if self.enabled:
            self.stream.write("\r" + self.line(now) + "\033[K")
            self.stream.flush()
