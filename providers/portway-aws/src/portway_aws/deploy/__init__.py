"""Deploying a pipeline on AWS, in pure stages (as chalice's deployer documents at its top).

1. :mod:`~portway_aws.deploy.desired`: pipeline + names + artifact -> the AWS resources
   portway wants (:class:`~portway_aws.deploy.resources.AwsResource`, frozen data).
2. :mod:`~portway_aws.deploy.observe`: read-only calls -> what exists now
   (:class:`~portway_aws.deploy.resources.Observed`). Calls grow with resource kinds,
   not with resources: the Resource Groups Tagging API for S3, SQS, SNS and Lambda, IAM
   roles listed by portway's path, schedules listed by portway's group.
3. The core's planner, :func:`portway.deploy.reconcile.plan_deploy`: a pure function
   (desired, observed, record) -> Plan; AWS supplies only its kinds' rank
   (:class:`~portway_aws.deploy.resources.Kind`).
4. :mod:`~portway_aws.deploy.apply`: the core's executor
   (:mod:`portway.deploy.execute`) under the stage's lock, one module per resource kind
   under :mod:`portway_aws.deploy.kinds`.
5. :mod:`~portway_aws.deploy.record`: the core's deploy record
   (:mod:`portway.deploy.record`) on an S3 store with conditional writes, in the
   portway-managed state bucket.
"""
