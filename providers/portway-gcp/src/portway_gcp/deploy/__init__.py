"""Deploying a pipeline on Google Cloud, in pure stages (as chalice's deployer documents).

1. :mod:`~portway_gcp.deploy.desired`: pipeline + names + source -> the Google Cloud
   resources portway wants (:class:`~portway_gcp.deploy.resources.GcpResource`, frozen
   data), IAM bindings included (:mod:`portway_gcp.iam`).
2. observe (to come): read-only list calls filtered by portway's labels and name prefix;
   calls grow with resource kinds, not with resources.
3. plan (to come): a pure function (desired, observed) -> Plan.
4. apply (to come): the executor, in :class:`~portway_gcp.deploy.resources.Kind` order,
   one module per resource kind.
5. record (to come): the deploy record, written to the portway-managed state bucket with
   ``if_generation_match``.
"""
