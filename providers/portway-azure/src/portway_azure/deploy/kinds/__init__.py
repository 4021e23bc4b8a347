"""One module of request builders per family of resource kinds, merged in :data:`BUILDERS`.

Each module maps its kinds to a :class:`~portway_azure.deploy.requests.KindRequests`
(create, delete, and update when it differs from create);
:mod:`portway_azure.deploy.requests` dispatches through this registry.
"""

from __future__ import annotations

from portway_azure.deploy.kinds import access, eventgrid, storage, web
from portway_azure.deploy.requests import KindRequests
from portway_azure.deploy.resources import Kind

BUILDERS: dict[Kind, KindRequests] = {
    **storage.REQUESTS,
    **eventgrid.REQUESTS,
    **access.REQUESTS,
    **web.REQUESTS,
}
assert set(BUILDERS) == set(Kind), "every resource kind has its request builders"
