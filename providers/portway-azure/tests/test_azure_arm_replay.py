"""The ARM replay the benchmark counts calls with: the azure-mgmt clients' own requests,
answered from what earlier requests created (no ARM emulator exists)."""

from __future__ import annotations

from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters
from azure.mgmt.msi.models import Identity
from portway_azure.deploy.arm import ArmSender
from portway_azure.deploy.deployment import Deployment
from portway_azure.testing.arm_replay import ArmReplay, CountingSender

from portway import Message, Pipeline
from portway.config import StageConfig

SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
GROUP = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg"


def test_role_assignments_are_listed_below_the_group_for_the_principal_filtered() -> None:
    replay = ArmReplay()
    clients = replay.clients(SUBSCRIPTION)
    identity = clients.msi.user_assigned_identities.create_or_update(
        "rg", "id-work", Identity(location="westeurope")
    )
    assert identity.principal_id, "Azure assigns the principal: the replay does too"
    queue = f"{GROUP}/providers/Microsoft.Storage/storageAccounts/st/queueServices/default/queues/q"
    for name, principal in (("a1", identity.principal_id), ("a2", "someone-else")):
        clients.authorization.role_assignments.create(
            queue,
            name,
            RoleAssignmentCreateParameters(role_definition_id="/r/reader", principal_id=principal),
        )
    listed = clients.authorization.role_assignments.list_for_resource_group(
        "rg", filter=f"principalId eq '{identity.principal_id}'"
    )
    assert [(a.name, a.scope) for a in listed] == [("a1", queue)]
    assert [call.split()[0] for call in replay.log.writes] == ["PUT", "PUT", "PUT"]
    assert len(replay.log.reads) == 1


def test_a_redeploy_observed_through_the_replay_plans_nothing_and_sends_nothing(
    azurite_connection_string: str, unique_name: str
) -> None:
    pipeline = Pipeline(unique_name)
    jobs = pipeline.queue("jobs")
    lake = pipeline.bucket(unique_name)

    @pipeline.on_message(jobs, uses=[lake.write()])
    def work(message: Message) -> None: ...

    stage = StageConfig(
        "dev",
        "azure",
        {
            "subscription": SUBSCRIPTION,
            "resource_group": "rg",
            "location": "westeurope",
            "connection_string": azurite_connection_string,
        },
        app="pipeline:app",
    )
    replay = ArmReplay()

    def deployment() -> tuple[Deployment, CountingSender]:
        clients = replay.clients(SUBSCRIPTION)
        sender = CountingSender(ArmSender(clients))
        run = Deployment(
            unique_name, stage, pipeline, arm=clients, sender=sender, progress=lambda _: None
        )
        run.archives = {}  # type: ignore[misc]  # packages are golden-tested elsewhere
        return run, sender

    first, first_sender = deployment()
    first.apply(first.plan())
    assert len(first_sender.sent) >= len(first.desired)
    assert len(replay.log.writes) == len(first_sender.sent)

    second, second_sender = deployment()
    before = len(replay.log.calls)
    plan = second.plan()
    assert plan.is_empty
    reads = [call for call, mutating in replay.log.calls[before:] if not mutating]
    assert len(reads) == len(replay.log.calls) - before
    assert all(call.startswith("GET ") for call in reads)
    # One list per kind in the group, the role assignments of the one identity, and
    # the containers and queues of each of the two storage accounts (data, app host).
    assert [call.rsplit("/", 1)[1] for call in reads] == [
        "storageAccounts",
        "topics",
        "systemTopics",
        "userAssignedIdentities",
        "serverfarms",
        "sites",
        "roleAssignments",
        *["containers", "queues"] * 2,
    ]
    second.apply(plan)
    assert second_sender.sent == []
    assert len(replay.log.calls) == before + len(reads)
