"""Close matches for a name that is not there, and the one way every message offers them ("Did you mean").

Standard library only: every layer may use it (docs/architecture.md).
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable, Sequence

__all__ = ["did_you_mean", "suggest"]


def suggest(word: str, candidates: Iterable[str], limit: int = 3) -> list[str]:
    """Up to ``limit`` close matches for ``word``, best first (difflib)."""
    pool = sorted(set(candidates))
    matches = difflib.get_close_matches(word, pool, n=limit, cutoff=0.6)
    if len(matches) < limit:
        # A case slip ("sales/orders") is a likely typo that difflib scores low.
        lowered = [c for c in pool if c.lower() == word.lower() and c not in matches]
        matches = (lowered + matches)[:limit]
    return matches


def did_you_mean(matches: Sequence[str], typed: str | None = None, said: str = "the file says") -> str:
    """`` Did you mean "a", "b" or "c"?`` (empty when there is nothing to suggest).

    A match that would print like ``typed`` (it differs only in Unicode normalisation, invisible characters or
    spaces at the ends) is shown with escapes, ``"Cafe\\u0301"``, and said to differ, so that nobody is told
    "X does not exist; did you mean X?".
    """
    if not matches:
        return ""
    quoted = [_visible(m) if typed is not None and _looks_alike(m, typed) else f'"{m}"' for m in matches]
    if typed is not None and any(_looks_alike(m, typed) for m in matches):
        alike = _visible(typed)
        listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
        return (f" Did you mean {listed}? Names are compared exactly: {said} {alike}, which differs in "
                "characters that look the same (Unicode normalisation, invisible characters or spaces).")
    quoted = [f'"{m}"' for m in matches]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f" Did you mean {listed}?"


def _looks_alike(a: str, b: str) -> bool:
    return a != b and _skeleton(a) == _skeleton(b)


def _skeleton(text: str) -> str:
    """What a name looks like: compatibility-normalised, invisible format characters dropped, runs of spaces (any
    kind) as one, and no spaces at the ends."""
    text = "".join(ch for ch in unicodedata.normalize("NFKC", text) if unicodedata.category(ch) != "Cf")
    return " ".join(text.split())


def _visible(text: str) -> str:
    """A name in double quotes with everything but printable ASCII escaped (``"Cafe\\u0301 "``)."""
    return '"' + text.encode("ascii", "backslashreplace").decode("ascii").replace('"', '\\"') + '"' + (
        " (with spaces at the ends)" if text != text.strip() else "")
