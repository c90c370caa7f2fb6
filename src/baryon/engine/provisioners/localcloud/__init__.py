"""The local-cloud layer of the CloudFormation provisioner: templates, errors and deletions adapted to
the local cloud (moto's server that `baryon up` runs), and never to anything else.

- `adapt` (pure): the rendered template as moto can take it — JSON instead of YAML, SAM expanded,
  the intrinsic functions and property forms moto mishandles rewritten (`rewrites`), stand-ins for the
  resource types moto does not model (`standins`);
- `layer`: what the provisioner asks — whether a target is the local cloud (`is_local`), the adapted
  body and what to record of it, the message that replaces an error of the local cloud itself, the
  deployment's summary of stand-ins and empty outputs;
- `cleanup`: what moto leaves behind on a stack's deletion (NAT and internet gateways, routes, route
  tables, addresses) removed first.

Invariants: none of this runs for a target that is not the local cloud: there templates go out exactly as
rendered and errors are classified as for AWS.
"""
