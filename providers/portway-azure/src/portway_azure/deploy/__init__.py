"""Deploying a pipeline on Azure, in pure stages (as chalice's deployer documents at its top).

1. :mod:`~portway_azure.deploy.desired`: pipeline + names + packages -> the Azure
   resources portway wants (:class:`~portway_azure.deploy.resources.AzureResource`).
2. :mod:`~portway_azure.deploy.observe`: read-only listing calls -> what exists now
   (:class:`~portway_azure.deploy.resources.Observed`), one call per kind and parent.
3. :mod:`portway.deploy.reconcile` (the core's planner): a pure function (desired,
   observed, record) -> Plan; a change names a resource by its path (``account/queue``).
4. :mod:`~portway_azure.deploy.requests`: each change -> the requests the executor sends,
   built with azure-mgmt's own model types (golden-tested: no ARM emulator exists).
5. :mod:`~portway_azure.deploy.apply`: the executor, in dependency order, under the lock
   (the core's :func:`~portway.deploy.execute.run_changes`, in two phases).
6. :mod:`~portway_azure.deploy.record`: the blob store of the core's record and lock
   (:class:`~portway.deploy.record.StageRecords`), written with ``If-None-Match: *`` /
   ``If-Match``.
"""
