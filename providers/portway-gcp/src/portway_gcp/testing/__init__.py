"""Running portway-gcp's tests and conformance suite on Google's emulators.

Nothing here is on a deployed function's path (the runtime shim never imports it).
"""
