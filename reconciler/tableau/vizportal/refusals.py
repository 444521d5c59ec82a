"""When Vizportal may not be used: token sign-in, Tableau Cloud (refused before any write)."""

from __future__ import annotations

from tableauserverclient.server.endpoint.exceptions import FailedSignInError, NotSignedInError

from reconciler.errors import TableauRequestError, UsageError
from reconciler.tableau.connect import Connection, ConnectionSettings, translate_error


def require_password_credentials(settings: ConnectionSettings, feature: str) -> None:
    """Refuse ``feature`` unless the run signs in with a username and password (Vizportal has nothing else)."""
    credentials = settings.credentials
    if credentials.kind == "password":
        return
    precedence = (" (and unset TABLEAU_PAT_NAME and TABLEAU_PAT_SECRET, which take precedence)"
                  if credentials.kind == "pat" else " (and unset TABLEAU_JWT)")
    raise UsageError(
        f"{feature} needs a username and password: Vizportal, Tableau Server's undocumented web API, has no "
        f"sign-in with a personal access token or a JSON Web Token, and this run signs in with "
        f"{credentials.describe()}. Set TABLEAU_USERNAME and TABLEAU_PASSWORD for an account that can sign in "
        f"with a password, not only through SSO/MFA{precedence}, or leave out the option to use the REST API. "
        "Nothing was changed.")


def require_server_flavor(flavor: str | None, feature: str, server: str) -> None:
    """Refuse ``feature`` on Tableau Cloud, which has no Vizportal API for clients."""
    if flavor == "cloud":
        raise UsageError(
            f"{feature} works only on Tableau Server, and {server} is Tableau Cloud, which offers no Vizportal "
            "API to scripts (Tableau Cloud moves tasks in place and refreshes through the REST API anyway). "
            "Leave out the option. Nothing was changed.")


def detect_flavor(conn: Connection) -> str:
    """``server`` or ``cloud``, read-only: Tableau Cloud answers ``GET /schedules`` with 401."""
    try:
        conn.send("GET", f"{conn.base_url}/schedules?pageSize=1")
    except (FailedSignInError, NotSignedInError):
        return "cloud"
    except Exception as error:
        translated = translate_error(error, "listing server schedules")
        if isinstance(translated, TableauRequestError) and translated.code in ("401", "401000"):
            return "cloud"
        raise translated from error
    return "server"
