"""The files ``reconciler demo`` plans and applies (shipped with the package)."""
