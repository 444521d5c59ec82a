"""Helpers shared by the emulator tests."""

from __future__ import annotations

import tableauserverclient as TSC

from reconciler.emulator import Emulator


def sign_in(emulator: Emulator, site: str = "", *, user: str | None = None, password: str | None = None,
            pat: tuple[str, str] | None = None) -> TSC.Server:
    """A TSC server signed in to `emulator` (admin PAT by default), at the server's API version."""
    server = TSC.Server(emulator.url, use_server_version=True)
    if user is not None:
        server.auth.sign_in(TSC.TableauAuth(user, password or user, site))
    else:
        name, secret = pat or (emulator.pat_name, emulator.pat_secret)
        server.auth.sign_in(TSC.PersonalAccessTokenAuth(name, secret, site))
    return server


def raw(server: TSC.Server, path: str) -> str:
    """An absolute URL under the signed-in site: `raw(server, "/datasources")`."""
    return f"{server.baseurl}/sites/{server.site_id}{path}"
