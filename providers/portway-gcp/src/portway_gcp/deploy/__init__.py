"""Deploying a pipeline on Google Cloud, in pure stages (as chalice's deployer documents).

1. :mod:`~portway_gcp.deploy.desired`: pipeline + names + source -> the Google Cloud
   resources portway wants (:class:`~portway_gcp.deploy.resources.GcpResource`, frozen
   data), IAM bindings included (:mod:`portway_gcp.iam`).
2. :mod:`~portway_gcp.deploy.observe`: read-only list calls filtered by portway's labels
   (or the marks in a description) and name prefix; calls grow with resource kinds, not
   with resources. IAM bindings and bucket notifications are known from the record.
3. :mod:`~portway_gcp.deploy.planner`: a pure function (desired, observed, record) -> Plan.
4. :mod:`~portway_gcp.deploy.apply`: the executor, in
   :class:`~portway_gcp.deploy.resources.Kind` order, one module per resource kind under
   :mod:`portway_gcp.deploy.kinds`.
5. :mod:`~portway_gcp.deploy.record`: the deploy record in the portway-managed state
   bucket, written with ``if_generation_match``, under a lock object.

:class:`~portway_gcp.deploy.deployment.GcpDeployment` wires them together.
"""
