"""A free TCP port on the loopback interface, for emulators that tests start.

Emulators (moto, Azurite, Google's Pub/Sub emulator, gcp-storage-emulator, drongo) take
their port on the command line, so the port is chosen first and handed over. Another
process may take it in between: the starting harness notices the emulator exit and
reports its log.
"""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port on ``127.0.0.1`` that nothing was listening on a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
