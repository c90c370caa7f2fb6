"""Tests of baryon.render: namespaces, Proton filters, strictness, value rendering, sandbox, templates."""
