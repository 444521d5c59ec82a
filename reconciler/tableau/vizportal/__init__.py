"""Vizportal: Tableau Server's undocumented web-client API, for what the REST API cannot do.

WARNING: Vizportal is NOT supported by Tableau. It is the private API behind Tableau Server's web
pages; Tableau can change or remove any of it, without notice, in any release (including a
maintenance release). reconciler uses it only when asked (``apply --server-move-strategy
vizportal``, ``refresh --via vizportal``), only on Tableau Server, and only with a username and
password: Vizportal has no personal-access-token or JWT sign-in.

What is used (docs/tableau-behaviour.md, section Vizportal):

- ``generatePublicKey`` → an RSA public key (hex modulus ``n`` and exponent ``e``) and its ``keyId``;
- the password is encrypted with RSA PKCS#1 v1.5 and sent hex-encoded to ``login`` with the key id
  and the site's contentUrl; the answer sets the ``workgroup_session_id`` and ``XSRF-TOKEN`` cookies;
- every later call sends the session cookie and the ``X-XSRF-TOKEN`` header (the cookie's value);
- ``getExtractTasks`` / ``getSchedules`` are paged (``page: {startIndex, maxItems}``, more while
  ``result.moreItems``): both are read to the end, or not used at all;
- ``setExtractTasksSchedule`` moves tasks to another schedule in place (same task, same history);
- ``runExtractRefreshesOnDatasources`` starts data source refreshes.

Vizportal ids are the integer ids of Tableau's repository, not REST LUIDs, and no public sample
shows a LUID in a Vizportal answer. So REST objects are mapped to Vizportal ones only through what
both sides are seen to carry (docs/tableau-behaviour.md, section Vizportal): an item's Vizportal id
is the number at the end of its REST ``webpageUrl`` (the web page's address, which seed 000 reads
the id from); a schedule is found by its name; a task is the one Vizportal task whose ``targetId``
is its item's id and whose ``scheduleId`` is its schedule's. Anything that does not map to exactly
one Vizportal object stops the apply before its first write.

Every call is ``POST {server}/vizportal/api/web/v1/{method}`` with ``{"method": ..., "params": {...}}``.
Vizportal reports a failed method with HTTP 200 and an ``errors`` member: that is a failure here
(seed 000 does the same). HTTP 401 means the session expired: log in again once and resend. HTTP 403
is an XSRF problem. Every failure is a ``TableauRequestError`` (a ``TableauConnectionError`` when
the server cannot be reached).

The password is read from the ``Credentials`` object only while a login is being made; it is never
stored here, logged, traced or copied into an error.

The package, by job: ``client`` (login, session, calls, paged lists), ``lists`` (the answers' shapes
and REST → Vizportal ids), ``moves`` (in-place task moves), ``refresh`` (``refresh --via vizportal``),
``refusals`` (token sign-in and Tableau Cloud are refused before any write).
"""

from reconciler.tableau.vizportal.client import UNSUPPORTED, VizportalClient, encrypt_password
from reconciler.tableau.vizportal.lists import RefreshAnswer, VizportalSchedule, VizportalTask, item_web_id, web_id
from reconciler.tableau.vizportal.moves import PlannedMove, VizportalMover, match_tasks
from reconciler.tableau.vizportal.refresh import start_datasource_refreshes
from reconciler.tableau.vizportal.refusals import detect_flavor, require_password_credentials, require_server_flavor

__all__ = [
    "UNSUPPORTED",
    "PlannedMove",
    "RefreshAnswer",
    "VizportalClient",
    "VizportalMover",
    "VizportalSchedule",
    "VizportalTask",
    "detect_flavor",
    "encrypt_password",
    "item_web_id",
    "match_tasks",
    "require_password_credentials",
    "require_server_flavor",
    "start_datasource_refreshes",
    "web_id",
]
