"""``${VAR}`` in string values, replaced from the environment; ``$${`` writes a literal ``${``."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

__all__ = ["interpolator"]

_TOKEN = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\{")


def interpolator(env: Mapping[str, str]) -> Callable[[str], str]:
    """A function that interpolates one string, raising ValueError with a message for the user."""

    def interpolate(text: str) -> str:
        if "${" not in text:
            return text
        out: list[str] = []
        last = 0
        for match in _TOKEN.finditer(text):
            out.append(text[last:match.start()])
            last = match.end()
            token = match.group(0)
            if token == "$${":
                out.append("${")
            elif match.group(1) is not None:
                name = match.group(1)
                if name not in env:
                    raise ValueError(f"the environment variable {name} is not set (used as ${{{name}}}); "
                                     f"set it, or write $${{ for a literal ${{.")
                out.append(env[name])
            else:
                raise ValueError("a malformed ${...}: write ${NAME} (letters, digits and _), "
                                 "or $${ for a literal ${.")
        out.append(text[last:])
        return "".join(out)

    return interpolate
