"""Running portway-aws's conformance suite on moto: the harness and what it plays.

Nothing here is on a deployed function's path (the handler never imports it).
"""
