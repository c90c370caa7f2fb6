"""Template bundles: safe reading of ``.tar.gz`` archives, layout, manifest and schema checks, limits.

A bundle is what `CreateEnvironmentTemplateVersion` / `CreateServiceTemplateVersion` point at:
``schema/schema.yaml`` plus one folder per infrastructure part (``infrastructure/`` for
environments; ``instance_infrastructure/`` and, with a pipeline, ``pipeline_infrastructure/`` for
services), each with a ``manifest.yaml``. `load_bundle` validates an archive and returns a
`BundleInfo`; `check_minor_compatible` compares the schemas of two minor versions of a major.

Invariants: every rejection is a `BundleError` whose text is the complete author-facing
``statusMessage``; loading never writes to the filesystem; limits come from `Limits`.
"""

from baryon.bundles.compat import check_minor_compatible
from baryon.bundles.errors import BundleError
from baryon.bundles.limits import Limits
from baryon.bundles.load import BundleInfo, load_bundle

__all__ = ["BundleError", "BundleInfo", "Limits", "check_minor_compatible", "load_bundle"]
