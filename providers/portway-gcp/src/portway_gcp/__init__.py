"""portway's Google Cloud provider.

Registered through the ``portway`` entry-point group (:mod:`portway_gcp.plugin`).
Importing this package imports nothing else: handler cold starts pay for every import.
"""
