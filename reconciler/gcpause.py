"""``gc_paused()``: pause Python's cyclic garbage collector around bulk work.

Loading a 5,000-item file, reading a 20,000-task site and planning it each allocate hundreds of
thousands of small objects, none in reference cycles; the collector's repeated passes over them cost
a third to a half of the time. Standard library only, so every layer may use it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector inside the block (restoring it after, even on error)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
