"""The one error type of the emulator: a Tableau REST error (HTTP status + six-digit code).

Handlers and the store raise `EmulatorError`; `server.py` serialises it in exactly one place
(`responses.error_body`) as Tableau's
`<tsResponse xmlns="http://tableau.com/api"><error code><summary/><detail/></error></tsResponse>`.
"""

from __future__ import annotations

__all__ = ["EmulatorError"]


class EmulatorError(Exception):
    """A Tableau REST error: `status` is the HTTP status, `code` the documented six-digit code."""

    def __init__(self, status: int, code: str, summary: str, detail: str = "") -> None:
        self.status = status
        self.code = code
        self.summary = summary
        self.detail = detail
        super().__init__(f"{status} {code} {summary}: {detail}")

    @classmethod
    def bad_request(cls, detail: str) -> EmulatorError:
        """400000: malformed or incomplete request body."""
        return cls(400, "400000", "Bad Request", detail)

    @classmethod
    def not_found(cls, code: str, summary: str, detail: str) -> EmulatorError:
        """A 404xxx error."""
        return cls(404, code, summary, detail)

    @classmethod
    def forbidden(cls, code: str, summary: str, detail: str) -> EmulatorError:
        """A 403xxx error."""
        return cls(403, code, summary, detail)

    @classmethod
    def invalid_schedule(cls, detail: str) -> EmulatorError:
        """409004: invalid or missing schedule/interval parameter value."""
        return cls(409, "409004", "Bad Request", detail)

    @classmethod
    def unauthorized(cls, detail: str = "The authentication token provided in the request header was "
                     "invalid or has expired.") -> EmulatorError:
        """401002: missing, unknown or expired X-Tableau-Auth token."""
        return cls(401, "401002", "Unauthorized Access", detail)
