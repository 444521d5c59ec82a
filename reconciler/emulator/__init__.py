"""A faithful fake Tableau Server / Tableau Cloud over real HTTP, for tests and demos.

It imports nothing from the rest of `reconciler` (it is the server's world). Start one with
`with Emulator(flavor="server", seed="demo", job_seconds=0.0) as emu: ...` and point
tableauserverclient at `emu.url`; `serve(EmulatorConfig(...))` runs one in the foreground.
"""

from __future__ import annotations

from .exceptions import EmulatorError
from .server import Emulator, EmulatorConfig, serve

__all__ = ["Emulator", "EmulatorConfig", "EmulatorError", "serve"]
