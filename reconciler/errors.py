"""The errors reconciler reports to its users.

Our exception hierarchy:

* ReconcilerError: any failure with a message addressed to the user; exit code 1.
  + UsageError: a bad flag, option or combination of them.
  + DesiredStateInvalid: the files are malformed or break a rule; carries every problem found.
  + TableauConnectionError: the server cannot be reached, or refuses our credentials.
  + TableauRequestError: the server answered a request with an error (code, summary, detail).
  + PlanError: the files cannot be planned against this site (unknown item, protected delete...).
  + StalePlanError: a saved plan no longer matches the site.
  + ApplyFailed: some actions of an apply failed; what was done is kept.
  + ApplyInterrupted: Ctrl-C or SIGTERM stopped an apply; in-flight actions finished (exit 130 / 143).

Third-party exceptions are wrapped at the module boundary (``raise ... from e``) so that none of
them reach the command line.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.model import Source

__all__ = [
    "ApplyFailed",
    "ApplyInterrupted",
    "DesiredStateInvalid",
    "PlanError",
    "Problem",
    "ReconcilerError",
    "StalePlanError",
    "TableauConnectionError",
    "TableauRequestError",
    "UsageError",
]


class ReconcilerError(Exception):
    """A failure explained to the user. ``str(error)`` is the whole message."""

    exit_code = 1


class UsageError(ReconcilerError):
    """A bad flag, option or combination of them."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the files, at a place in them."""

    source: Source | None
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.message}" if self.source else self.message

    def sort_key(self) -> tuple[str, int, int, str]:
        if self.source is None:
            return ("", 0, 0, self.message)
        return (self.source.file, self.source.line, self.source.column, self.message)


class DesiredStateInvalid(ReconcilerError):
    """The files are malformed or invalid; ``problems`` lists every one found (sorted)."""

    MAX_SHOWN = 50

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=Problem.sort_key)
        shown = [str(p) for p in self.problems[: self.MAX_SHOWN]]
        more = len(self.problems) - len(shown)
        if more > 0:
            shown.append(f"... and {more} more problems")
        count = len(self.problems)
        shown.append(f"{count} problem{'s' if count != 1 else ''} found; nothing was sent to any server.")
        super().__init__("\n".join(shown))


class TableauConnectionError(ReconcilerError):
    """The server cannot be reached, or refuses the credentials."""


class TableauRequestError(ReconcilerError):
    """The server answered with an error; ``code`` is Tableau's (e.g. 409004)."""

    def __init__(self, message: str, code: str | None = None, summary: str = "", detail: str = "") -> None:
        self.code = code
        self.summary = summary
        self.detail = detail
        super().__init__(message)


class PlanError(ReconcilerError):
    """The files cannot be planned against this site."""


class StalePlanError(ReconcilerError):
    """A saved plan no longer matches the site it was made for."""


class ApplyFailed(ReconcilerError):
    """Some actions failed. The others were applied; re-running apply converges."""


class ApplyInterrupted(ReconcilerError):
    """Ctrl-C or SIGTERM stopped an apply between actions; exit 130 (SIGINT) or 143 (SIGTERM), as shells do."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code
