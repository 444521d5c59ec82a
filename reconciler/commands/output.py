"""A command's consoles: results on stdout, notes, warnings and progress on stderr, NO_COLOR honoured."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from reconciler.model import DesiredState

__all__ = ["Output", "announce_files", "plain_console"]

#: How many file names plan and drift list before "and N more".
FILES_SHOWN = 20


def plain_console(stderr: bool = False) -> Console:
    """A console that honours ``NO_COLOR`` fully (https://no-color.org): no colour, and no bold or any other
    escape code either (rich's own ``no_color`` drops colours but keeps bold)."""
    no_color = bool(os.environ.get("NO_COLOR"))
    if no_color:
        return Console(stderr=stderr, highlight=False, soft_wrap=True, no_color=True, color_system=None)
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


class Output:
    """Consoles for one command: results on stdout, progress and notes on stderr."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.out = plain_console()
        self.err = plain_console(stderr=True)

    @property
    def color(self) -> bool:
        return self.out.is_terminal and not self.out.no_color

    @property
    def interactive(self) -> bool:
        # Spinners and progress bars move the cursor with escape codes: none under NO_COLOR.
        return self.err.is_terminal and not self.quiet and not self.err.no_color

    def note(self, message: str) -> None:
        if not self.quiet:
            self.err.print(message, markup=False)

    def warn(self, message: str) -> None:
        # The message carries names from the files and the site: never read as markup ("[/x]" would crash).
        self.err.print(f"[bold yellow]Warning:[/bold yellow] {escape(message)}", markup=True)

    def result(self, text: str) -> None:
        """Print rendered output (already formatted) on stdout, without rich markup processing."""
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()

    @contextmanager
    def status(self, message: str) -> Iterator[Callable[[str], None]]:
        """A spinner with ``message`` while the block runs; the block may call what it yields to change the
        message (``Reading 12 of 50 sites ...``). Nothing at all when not interactive."""
        if self.interactive:
            with self.err.status(Text(message)) as spinner:
                yield lambda text: spinner.update(Text(text))
        else:
            yield lambda _text: None


def announce_files(output: Output, desired: DesiredState) -> None:
    """Say which files were read (a directory that silently reads nothing would plan to prune everything), and
    the loader's warnings (broken symlinks)."""
    files = desired.files
    shown = ", ".join(files[:FILES_SHOWN]) + (f" and {len(files) - FILES_SHOWN} more" if len(files) > FILES_SHOWN
                                               else "")
    output.note(f"Read {len(files)} file{'s' if len(files) != 1 else ''}: {shown}")
    for note in desired.notes:
        output.warn(note)
