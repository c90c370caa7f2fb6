"""Provisioners: how a rendered deployment becomes infrastructure (CloudFormation stacks, …).

Invariants: each provisioner exposes small, idempotent steps that never wait on the remote side; the
progress a step makes is returned to the deployment job, which persists it before the next step; AWS
failures surface as `errors.ProvisionError` with `transient` telling retry from failure.
"""
