"""portway's AWS provider.

Registered through the ``portway`` entry-point group (:mod:`portway_aws.plugin`).
Importing this package imports nothing else: handler cold starts pay for every import.
"""
