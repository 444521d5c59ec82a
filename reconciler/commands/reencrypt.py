"""``reconciler reencrypt``: rotate the site's extract encryption keys (reencrypt-extracts)."""

from __future__ import annotations

import sys

from reconciler.commands.options import ConnectionOptions
from reconciler.commands.output import Output
from reconciler.commands.settings import resolve_settings
from reconciler.errors import ReconcilerError, UsageError
from reconciler.model import LiveState, site_label
from reconciler.tableau.connect import connect
from reconciler.tableau.read import read_site
from reconciler.tableau.write import Writer


def reencrypt(options: ConnectionOptions, *, auto_approve: bool = False) -> int:
    output = Output(options.quiet)
    with connect(resolve_settings(options), warn=output.warn) as conn:
        with output.status(f"Reading {conn.settings.server} ..."):
            live = read_site(conn, None, schedule_details="declared")
        site = site_label(live.site)
        _require_server_admin(live)
        if live.encryption_mode == "disabled":
            raise ReconcilerError(
                f"Extract encryption is disabled on {site}: there are no encrypted extracts to re-encrypt. "
                "Set encryption.mode to enabled or enforced (and apply) first.")
        encrypted = [i for i in live.items if i.has_extracts and (i.encrypt or live.encryption_mode == "enforced")]
        output.result(
            f"Re-encrypting rotates the encryption keys of {len(encrypted)} encrypted extract"
            f"{'s' if len(encrypted) != 1 else ''} on {site} (mode: {live.encryption_mode}). Tableau decrypts "
            "and encrypts every one of them again in background jobs: heavy work, best run off-peak.")
        if not auto_approve:
            if not sys.stdin.isatty():
                raise UsageError("Refusing to re-encrypt without confirmation: there is no terminal to ask. "
                                 "Pass --auto-approve.")
            if input("Re-encrypt now? [y/N] ").strip().lower() not in ("y", "yes"):
                raise ReconcilerError("Cancelled; nothing was changed.")
        Writer(conn, live.flavor).reencrypt_extracts()
    output.result("Re-encryption started; Tableau runs it in the background.")
    return 0


def _require_server_admin(live: LiveState) -> None:
    """Refuse before calling Tableau where reencrypt-extracts cannot succeed.

    Extract encryption at rest is a Tableau Server feature, managed by server administrators
    (docs/tableau-behaviour.md, "Extract encryption mode is for server administrators", "Extract encryption on
    Tableau Cloud").
    """
    if live.flavor == "cloud":
        raise ReconcilerError(
            "reencrypt is for Tableau Server: extract encryption at rest and reencrypt-extracts are Tableau Server "
            "features. On Tableau Cloud, extracts are encrypted by the service, and Customer-Managed Encryption "
            "Keys are rotated in the site's settings (Security). Nothing was changed.")
    user = live.user
    if user is not None and not user.is_server_admin:
        raise ReconcilerError(
            f"{user.name!r} ({user.role}) is not a server administrator: Tableau lets only a server administrator "
            "re-encrypt a site's extracts (reencrypt-extracts). Nothing was changed; run it as a server "
            "administrator.")
