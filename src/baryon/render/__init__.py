"""Rendering of Proton templates: the sandboxed Jinja renderer for CloudFormation (and other Jinja
strings), the Proton filters and the rendering namespaces.

- `render_template(source, context, file_name=...)` renders one template (`jinja`).
- `environment_context`, `service_instance_context`, `pipeline_context`, `component_context` build
  the namespaces of proton-semantics §3.1 (`context`).
- `RenderError` is the only exception a render raises; ``str(error)`` is the complete
  ``deploymentStatusMessage`` (`errors`).
- `RenderLimits` bounds a render's output, strings, steps and time (`sandbox`).
- `terraform_files` / `terraform_deletion` give the files a Terraform deployment or deletion commits
  (`terraform`); `proton_inputs` / `parse_outputs` write a command runner's input file and read its
  outputs file (`codebuild`).

Invariants: rendering is pure (no filesystem, network or global state), deterministic for a given
source and context, and strict: a reference to a missing leaf fails the render with the file, the
line and the missing path.
"""

from baryon.render.codebuild import OutputsError, parse_outputs, proton_inputs
from baryon.render.context import (
    component_context,
    environment_context,
    pipeline_context,
    service_instance_context,
)
from baryon.render.errors import RenderError
from baryon.render.jinja import render_template
from baryon.render.sandbox import RenderLimits
from baryon.render.terraform import TerraformChange, terraform_deletion, terraform_files

__all__ = [
    "OutputsError",
    "RenderError",
    "RenderLimits",
    "TerraformChange",
    "component_context",
    "environment_context",
    "parse_outputs",
    "pipeline_context",
    "proton_inputs",
    "render_template",
    "service_instance_context",
    "terraform_deletion",
    "terraform_files",
]
