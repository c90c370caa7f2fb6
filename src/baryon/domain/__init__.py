"""Pure domain logic: ARNs, names, version numbers, statuses. No I/O."""
