"""Desired-state files → a checked, normalised DesiredState: YAML with positions, JSON Schema, Tableau's rules.

Pure: reads the files it is given and nothing else, never the network.

- ``load_desired(paths, flavor=None, env=None)``: load, check and merge files or directories.
- ``for_flavor(desired, flavor)``: check the platform rules once the flavor is known (the planner
  calls it after detecting Server or Cloud); on Cloud, inline schedule templates into tasks.
- ``load_schema()``: the JSON Schema of the file (also in ``schemas/`` of a source checkout).
- ``find_deployment(paths)``, ``load_deployment(root, flavor=None, env=None, sites=())``: a deployment folder
  (``deployment.yaml`` and ``sites/``, one file or folder per site) → a ``Deployment``, each site checked.
- ``export_deployment(server, flavor, schedules, sites)``: live sites → the files of a deployment folder.

Every problem is reported as ``FILE:LINE:COL: what is wrong, and what is allowed``, all of a run at
once, in one ``reconciler.errors.DesiredStateInvalid``.
"""

from __future__ import annotations

from reconciler.desired.deployment import find_deployment, load_deployment
from reconciler.desired.export import export_deployment
from reconciler.desired.loader import for_flavor, load_desired
from reconciler.desired.schema import load_schema

__all__ = ["export_deployment", "find_deployment", "for_flavor", "load_deployment", "load_desired", "load_schema"]
