"""Running portway-azure against local emulators: Azurite, and an Event Grid player.

Nothing here is on a deployed function's path (the runtime shim never imports it).
"""
