"""The one support package of the tests: clients (with the response contract check), databases, bundles,
publishing, waiter settings, polling, errors, the clock, processes and servers. docs/development.md lists
the modules; a helper two test files need belongs here, not in either of them."""
