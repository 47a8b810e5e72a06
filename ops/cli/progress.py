"""A one-line progress bar: redrawn in place on a terminal, a single plain line anywhere else."""

from __future__ import annotations

import sys
from typing import TextIO

BAR_WIDTH = 30


class Progress:
    """`label: [#####.....] done/total what`; a log file or pipe gets only the final line."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = max(total, 1)
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()

    def line(self, done: int, what: str) -> str:
        """The text of one state of the bar."""
        filled = BAR_WIDTH * min(done, self.total) // self.total
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        return f"{self.label}: [{bar}] {done}/{self.total} {what}"

    def update(self, done: int, what: str) -> None:
        """Redraw on a terminal; nothing elsewhere (a log would get one line per step)."""
        if self.tty:
            self.stream.write("\r" + self.line(done, what))
            self.stream.flush()

    def finish(self, done: int, what: str) -> None:
        """The final state, ending the line."""
        prefix = "\r" if self.tty else ""
        self.stream.write(prefix + self.line(done, what) + "\n")
        self.stream.flush()
