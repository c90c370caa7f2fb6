"""Git plumbing for self-managed provisioning: the real `git` command, pushes and pull requests."""
