"""Provisioners: how a deployment becomes infrastructure, one module per provisioning method behind one
interface (`base.Provisioner`), found through `registry`: `cloudformation` (with the stack operations in
`stacks`, names in `stack_names`, AWS targets in `targets` and error classification in `errors`),
`terraform_git`, `command_runner` (over the backends of `baryon.engine.runners`) and `customer_managed`.

Invariants: each provisioner exposes small, idempotent steps that never wait on the remote side; the
progress a step makes is saved on the deployment before the next step; AWS failures surface as
`errors.ProvisionError` with `transient` telling retry from failure.
"""
