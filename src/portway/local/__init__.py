"""The embedded ``local`` provider: runs a pipeline on this machine, nothing to install.

It registers through the ``portway`` entry point and the ``portway_providers`` hook,
exactly as a third-party provider does (see :mod:`portway.local.plugin`).
"""
