"""The parts of :mod:`portway_gcp.package`: the ``requirements.txt`` Cloud Run functions
installs (:mod:`.requirements`). Deploy-time code: the runtime shim never imports it."""
