"""Operation handlers, one module per resource family; `registry` maps operation names to them."""
