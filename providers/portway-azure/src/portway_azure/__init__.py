"""portway's Azure provider.

Registered through the ``portway`` entry-point group (:mod:`portway_azure.plugin`).
Importing this package imports nothing else: handler cold starts pay for every import.
"""
