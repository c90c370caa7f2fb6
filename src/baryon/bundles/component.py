"""The manifest of a directly defined component: the same format as a bundle's manifest, for one file.

A component is created from two texts, a ``manifest.yaml`` and one IaC file, instead of a bundle. The
manifest reads ``infrastructure: {templates: [<one entry>]}`` exactly as in a bundle (see `manifest`);
the entry's ``file`` names the IaC file the ``templateFile`` text stands for. ``rendering_engine`` is
``jinja`` (CloudFormation) or ``hcl`` (Terraform); components have no CodeBuild provisioning. A Terraform
manifest may say ``file: "*"``; the one file is then called `WILDCARD_FILE`.

Invariants: `parse_component_manifest` either returns the engine, language and file name, or raises
`BundleError` whose message starts with ``manifest:`` and says what is wrong; it never looks at
anything but the two texts.
"""

from __future__ import annotations

from dataclasses import dataclass

from baryon.bundles.errors import BundleError
from baryon.bundles.layout import manifest_path
from baryon.bundles.manifest import parse_manifest
from baryon.bundles.yamldoc import load_mapping

PART = "component"
WILDCARD_FILE = "main.tf"
_PREFIX = manifest_path(PART)


@dataclass(frozen=True)
class ComponentManifest:
    rendering_engine: str  # "jinja" or "hcl"
    template_language: str  # "cloudformation" or "terraform"
    file_name: str  # the name the manifest gives the IaC file


def _named_file(manifest: bytes) -> str:
    """The file name the manifest's entry gives, or a placeholder that `parse_manifest` then refuses."""
    try:
        document = load_mapping(_PREFIX, manifest)
        entry = document["infrastructure"]["templates"][0]
        name = entry["file"]
    except (BundleError, KeyError, IndexError, TypeError):
        return WILDCARD_FILE
    if name == "*":
        return WILDCARD_FILE
    return name if isinstance(name, str) and name and "/" not in name and "\\" not in name else WILDCARD_FILE


def parse_component_manifest(manifest: str, template_file: str) -> ComponentManifest:
    """Check a component's manifest against its one IaC file; raise BundleError when unusable."""
    data = manifest.encode()
    name = _named_file(data)
    files = {_PREFIX: data, f"{PART}/{name}": template_file.encode()}
    try:
        part = parse_manifest(PART, files)
    except BundleError as error:
        message = (
            error.message.replace(_PREFIX, "manifest")
            .replace(f" inside {PART}/,", ",")
            .replace(f" in {PART}/", "")
        )
        raise BundleError(message) from None
    engine = part["rendering_engine"]
    if engine == "codebuild":
        raise BundleError(
            "manifest: components cannot use rendering_engine codebuild; use jinja (CloudFormation) "
            "or hcl (Terraform)"
        )
    return ComponentManifest(engine, part["template_language"], name)
