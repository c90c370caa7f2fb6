"""What `samples_local_cloud.py` deploys, and how it counts: bundle discovery, specs, changed inputs, totals.

Pure logic over a folder of sample templates (no process, no network), so that it can be tested on a
small tree of bundles made by a test.

- `discover(root)` finds every bundle: a folder holding `schema/schema.yaml` and
  `infrastructure/manifest.yaml` is an environment template, one holding `schema/schema.yaml` and
  `instance_infrastructure/manifest.yaml` a service template (with a pipeline when
  `pipeline_infrastructure/manifest.yaml` is there too). A folder named `v<N>` is major version N of the
  template named after its parent folder. Each bundle gets its sample spec (see `find_spec`) and each
  service template its compatible environment templates (`.compatible-envs`, else the nearest environment
  template in the tree, see `pair_services`).
- `service_spec` turns a sample service spec into the one deployed: the sample's first instance twice, in
  two environments, with the inputs the schema declares (others are dropped and named), and its pipeline.
- `pack` makes the bundle archive of a template version folder.
- `service_name` names the service made from a template.
- `changed_inputs` picks the input a second deployment changes, within what the schema allows.
- `BundleResult` and `totals` count what happened per bundle and over the run.

Invariants: discovery never reads outside `root` and never follows `.git`; the order of bundles is the
sorted order of their paths, so two runs over one tree deploy in the same order.
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import re
import tarfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

ENVIRONMENT = "environment"
SERVICE = "service"
_VERSION_DIR = re.compile(r"v(\d+)")
_NOISE = {"svc", "service", "env", "environment", "spec", "specs", "yaml", "yml", "v1", ""}
_RENDER_ERROR = re.compile(r"^[\w./-]+\.(?:ya?ml|json|j2|jinja)(?:, line \d+)?: ")
_LINT_RULE = re.compile(r"\b[EW]\d{4}\b")
_CIDR = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}/\d{1,2}$")


@dataclass(frozen=True)
class Bundle:
    """One template bundle of the samples: `path` is the folder packed into the bundle archive."""

    kind: str
    name: str
    major: str
    path: Path
    relative: str
    spec_path: Path | None = None
    has_pipeline: bool = False
    compatible: tuple[tuple[str, str], ...] = ()

    def schema(self) -> dict[str, Any]:
        loaded = yaml.safe_load((self.path / "schema" / "schema.yaml").read_text()) or {}
        schema = loaded.get("schema") or {}
        return schema if isinstance(schema, dict) else {}

    def input_properties(self, which: str) -> dict[str, dict[str, Any]] | None:
        """The properties of the schema's `<which>_input_type` ("environment", "service", "pipeline"),
        None when the schema has no such type."""
        schema = self.schema()
        type_name = schema.get(f"{which}_input_type")
        if not type_name:
            return None
        declared = (schema.get("types") or {}).get(type_name) or {}
        properties = declared.get("properties") or {}
        return {str(key): value or {} for key, value in properties.items()}

    def source(self, part: str) -> str:
        """The text of every file of one part of the bundle ("infrastructure", "pipeline_infrastructure"…)."""
        folder = self.path / part
        if not folder.is_dir():
            return ""
        return "\n".join(p.read_text(errors="replace") for p in sorted(folder.rglob("*")) if p.is_file())


def discover(root: Path) -> list[Bundle]:
    """Every environment and service bundle under `root`, environments first, each in path order."""
    root = root.resolve()
    found: list[Bundle] = []
    for schema in sorted(root.rglob("schema/schema.yaml")):
        folder = schema.parent.parent
        relative_parts = folder.relative_to(root).parts
        if ".git" in relative_parts:
            continue
        if (folder / "infrastructure" / "manifest.yaml").is_file():
            kind = ENVIRONMENT
        elif (folder / "instance_infrastructure" / "manifest.yaml").is_file():
            kind = SERVICE
        else:
            continue
        versioned = _VERSION_DIR.fullmatch(folder.name)
        home = folder.parent if versioned else folder
        found.append(
            Bundle(
                kind=kind,
                name=home.name,
                major=versioned.group(1) if versioned else "1",
                path=folder,
                relative=str(home.relative_to(root)) if home != root else ".",
                has_pipeline=(folder / "pipeline_infrastructure" / "manifest.yaml").is_file(),
                compatible=_compatible_file(folder, home),
            )
        )
    found = _unique_names(found)
    found = [_with_spec(root, bundle, found) for bundle in found]
    environments = [b for b in found if b.kind == ENVIRONMENT]
    services = [pair_services(b, environments) for b in found if b.kind == SERVICE]
    return environments + services


def _unique_names(bundles: list[Bundle]) -> list[Bundle]:
    """Template names are unique per kind: a repeated name gets `-2`, `-3`, … in path order."""
    seen: dict[tuple[str, str], int] = {}
    result = []
    for bundle in bundles:
        key = (bundle.kind, bundle.name)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            bundle = _replace(bundle, name=f"{bundle.name}-{seen[key]}")
        result.append(bundle)
    return result


def _replace(bundle: Bundle, **changes: Any) -> Bundle:
    return Bundle(**{**asdict(bundle), **changes})


def _compatible_file(folder: Path, home: Path) -> tuple[tuple[str, str], ...]:
    for candidate in (folder / ".compatible-envs", home / ".compatible-envs"):
        if candidate.is_file():
            pairs = []
            for line in candidate.read_text().splitlines():
                name, _, major = line.strip().partition(":")
                if name:
                    pairs.append((name.strip(), major.strip() or "1"))
            return tuple(pairs)
    return ()


def pair_services(service: Bundle, environments: list[Bundle]) -> Bundle:
    """The service with its compatible environment templates: those of `.compatible-envs` that exist among
    `environments`; else the environment templates nearest in the tree (the longest shared folder), and
    among those the ones that declare the most of the `environment.outputs.X` the service reads."""
    known = {(env.name, env.major) for env in environments}
    listed = tuple(pair for pair in service.compatible if pair in known)
    if listed or not environments:
        return _replace(service, compatible=listed)

    def shared(env: Bundle) -> int:
        return len(_common_prefix(env.path.parts, service.path.parts))

    nearest = max(shared(env) for env in environments)
    candidates = [env for env in environments if shared(env) == nearest]
    reads = set(re.findall(r"environment\.outputs\.(\w+)", service.source("instance_infrastructure")))
    if reads:
        best = max(len(reads & _declared_outputs(env)) for env in candidates)
        candidates = [env for env in candidates if len(reads & _declared_outputs(env)) == best]
    return _replace(service, compatible=tuple((env.name, env.major) for env in candidates))


def _common_prefix(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def _declared_outputs(env: Bundle) -> set[str]:
    """Output names of an environment's CloudFormation (keys indented by two spaces under `Outputs:`)."""
    names: set[str] = set()
    inside = False
    for line in env.source("infrastructure").splitlines():
        if re.match(r"^Outputs:\s*$", line):
            inside = True
        elif re.match(r"^\S", line):
            inside = False
        elif inside and (match := re.match(r"^  (\w+):", line)):
            names.add(match.group(1))
    return names


def _spec_kind(path: Path) -> str | None:
    try:
        loaded = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, OSError, UnicodeDecodeError):
        return None
    if not isinstance(loaded, dict):
        return None
    return {"EnvironmentSpec": ENVIRONMENT, "ServiceSpec": SERVICE}.get(str(loaded.get("proton")))


def _tokens(name: str) -> set[str]:
    return set(re.split(r"[-_.]", name.lower())) - _NOISE


def find_spec(root: Path, bundle: Bundle) -> Path | None:
    """The sample spec of a bundle: a spec of its kind (`proton: EnvironmentSpec` / `ServiceSpec`) in a
    `spec/` or `specs/` folder, or named `*spec.yaml`, beside the bundle's folder or in the nearest folder
    above it that has one. Several candidates: the one whose file name shares the most words with the
    template's name (`svc-private-spec.yaml` for `private-fargate-svc`), the first in path order on a tie."""
    folder = bundle.path.parent if _VERSION_DIR.fullmatch(bundle.path.name) else bundle.path
    while True:
        candidates = [
            path
            for path in _spec_files(folder)
            if _spec_kind(path) == bundle.kind and root in path.resolve().parents
        ]
        if candidates:
            wanted = _tokens(bundle.name)
            return max(candidates, key=lambda p: (len(_tokens(p.stem) & wanted), -candidates.index(p)))
        if folder == root or root not in folder.parents:
            return None
        folder = folder.parent


def _spec_files(folder: Path) -> list[Path]:
    files: list[Path] = []
    for sub in ("spec", "specs"):
        if (folder / sub).is_dir():
            files += sorted(p for p in (folder / sub).iterdir() if p.suffix in (".yaml", ".yml"))
    files += sorted(p for p in folder.glob("*spec.y*ml") if p.is_file())
    return files


def _with_spec(root: Path, bundle: Bundle, _all: list[Bundle]) -> Bundle:
    return _replace(bundle, spec_path=find_spec(root, bundle))


def pack(folder: Path) -> bytes:
    """The bundle archive of a template version folder: its files at the archive's root (dot files left
    out), as `tar -zcf bundle.tar.gz -C folder .` would make it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if any(part.startswith(".") for part in relative.parts) or not path.is_file():
                continue
            archive.add(path, arcname=str(relative), recursive=False)
    return buffer.getvalue()


def environment_spec(bundle: Bundle) -> str:
    """The environment spec deployed: the sample's file as it is, or the schema's defaults without one."""
    if bundle.spec_path is not None:
        return bundle.spec_path.read_text()
    return "proton: EnvironmentSpec\nspec: {}\n"


def environment_inputs(bundle: Bundle) -> dict[str, Any]:
    if bundle.spec_path is None:
        return {}
    loaded = yaml.safe_load(bundle.spec_path.read_text()) or {}
    inputs = loaded.get("spec") or {}
    return dict(inputs) if isinstance(inputs, dict) else {}


@dataclass
class ServicePlan:
    """The spec a service is created with, and what was left out of the sample's."""

    spec: dict[str, Any]
    dropped: list[str] = field(default_factory=list)

    def text(self) -> str:
        return yaml.safe_dump(self.spec, sort_keys=False)


def _keep(values: dict[str, Any], declared: dict[str, dict[str, Any]] | None, where: str) -> tuple:
    if declared is None:
        return dict(values), [f"{where}.{key}" for key in values] if values else []
    kept = {key: value for key, value in values.items() if key in declared}
    return kept, [f"{where}.{key}" for key in values if key not in declared]


def service_spec(bundle: Bundle, environments: tuple[str, str]) -> ServicePlan:
    """The sample's service spec with its first instance twice, named like the sample's (`<name>` and
    `<name>-2`), one in each of `environments`, keeping only inputs the schema declares; the sample's
    pipeline inputs when the template has a pipeline (an empty `pipeline:` block without a sample)."""
    sample: dict[str, Any] = {}
    if bundle.spec_path is not None:
        sample = yaml.safe_load(bundle.spec_path.read_text()) or {}
    instances = sample.get("instances") or [{}]
    first = instances[0] if isinstance(instances[0], dict) else {}
    base = str(first.get("name") or f"{bundle.name}-instance")
    inputs, dropped = _keep(first.get("spec") or {}, bundle.input_properties("service"), "instance")
    spec: dict[str, Any] = {"proton": "ServiceSpec"}
    if bundle.has_pipeline:
        pipeline, more = _keep(sample.get("pipeline") or {}, bundle.input_properties("pipeline"), "pipeline")
        spec["pipeline"] = pipeline
        dropped += more
    spec["instances"] = [
        {"name": name, "environment": env, "spec": dict(inputs)}
        for name, env in ((base, environments[0]), (f"{base[:96]}-2", environments[1]))
    ]
    return ServicePlan(spec, dropped)


def service_name(template: str) -> str:
    """The name of the service made from a service template: short, as the samples' READMEs name theirs
    (`front-end`), so that names the templates build from `<service>--<instance>` (target groups, cut at
    29 characters) stay apart for two instances: the initials of the template name's words and four hex
    digits of its hash, e.g. `lfs-1a2b` for `loadbalanced-fargate-svc`."""
    words = [word for word in re.split(r"[^A-Za-z0-9]+", template) if word]
    initials = "".join(word[0] for word in words).lower() or "s"
    if not initials[0].isalpha():
        initials = "s" + initials
    return f"{initials[:6]}-{hashlib.sha256(template.encode()).hexdigest()[:4]}"


def changed_inputs(declared: dict[str, dict[str, Any]] | None, current: dict[str, Any]) -> dict[str, Any]:
    """Inputs for a second deployment that differ from `current` and that the schema allows, the first kind
    found of: a number (+1, or -1 at its maximum); an enum (its next value); every CIDR block (the second
    octet +1, so subnets stay inside their VPC); a free string (prefixed with `v2-`). Empty when the schema
    offers none of these."""
    if not declared:
        return {}
    values = {key: current.get(key, spec.get("default")) for key, spec in declared.items()}
    for key, spec in declared.items():
        value = values[key]
        if (
            spec.get("type") in ("number", "integer")
            and "enum" not in spec
            and isinstance(value, int | float)
        ):
            up = value + 1
            limit = spec.get("maximum")
            new = up if limit is None or up <= limit else value - 1
            if spec.get("minimum") is None or new >= spec["minimum"]:
                return {**current, key: new}
    for key, spec in declared.items():
        options = spec.get("enum") or []
        if values[key] in options and len(options) > 1:
            return {**current, key: options[(options.index(values[key]) + 1) % len(options)]}
    shifted = {key: _shift_cidr(value) for key, value in values.items() if _is_cidr(value)}
    if shifted:
        return {**current, **shifted}
    for key, spec in declared.items():
        value = values[key]
        if spec.get("type") == "string" and isinstance(value, str) and value and not spec.get("pattern"):
            new = f"v2-{value}"
            if len(new) <= int(spec.get("maxLength", len(new))):
                return {**current, key: new}
    return {}


def _is_cidr(value: Any) -> bool:
    return isinstance(value, str) and bool(_CIDR.match(value))


def _shift_cidr(value: str) -> str:
    network = ipaddress.ip_network(value, strict=False)
    octets = str(network.network_address).split(".")
    octets[1] = str((int(octets[1]) + 1) % 256)
    return f"{'.'.join(octets)}/{network.prefixlen}"


def is_render_error(message: str | None) -> bool:
    """Whether a deployment's failure message is Baryon's render error (`<file>[, line N]: …`), not a
    check of the rendered template (cfn-lint names its rule, such as E3002)."""
    text = message or ""
    return bool(_RENDER_ERROR.match(text)) and not _LINT_RULE.search(text) and "cfn-lint" not in text


def shorten(message: str | None, limit: int = 200) -> str:
    text = " ".join(str(message or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class BundleResult:
    """What happened to one bundle. None means "not reached" (an earlier step failed or does not apply);
    `deleted` is None when nothing of the bundle was deployed and nothing of it was left behind."""

    bundle: str
    kind: str
    name: str
    registered: bool | None = None
    rendered: bool | None = None
    environments_deployed: int = 0
    environments: int = 0
    instances_deployed: int = 0
    instances: int = 0
    pipeline: bool | None = None
    pipeline_deployed: bool | None = None
    outputs_flow: bool | None = None
    second_deploy: bool | None = None
    deleted: bool | None = None
    failure: str | None = None
    notes: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        """Keep the first failure; later ones only as notes."""
        if self.failure is None:
            self.failure = " ".join(message.split())
        else:
            self.notes.append(shorten(message, 100))

    @property
    def deployed(self) -> bool:
        if self.kind == ENVIRONMENT:
            return self.environments > 0 and self.environments_deployed == self.environments
        pipeline_ok = self.pipeline_deployed is True if self.pipeline else True
        return self.instances > 0 and self.instances_deployed == self.instances and pipeline_ok


def totals(results: list[BundleResult]) -> dict[str, int]:
    environments = [r for r in results if r.kind == ENVIRONMENT]
    services = [r for r in results if r.kind == SERVICE]
    return {
        "environment_bundles": len(environments),
        "service_bundles": len(services),
        "registered": sum(1 for r in results if r.registered),
        "rendered": sum(1 for r in results if r.rendered),
        "render_tried": sum(1 for r in results if r.rendered is not None),
        "environments_deployed": sum(1 for r in environments if r.deployed),
        "services_deployed": sum(1 for r in services if r.deployed),
        "environment_stacks_deployed": sum(r.environments_deployed for r in environments),
        "environment_stacks": sum(r.environments for r in environments),
        "instances_deployed": sum(r.instances_deployed for r in services),
        "instances": sum(r.instances for r in services),
        "pipelines_deployed": sum(1 for r in services if r.pipeline_deployed),
        "pipelines": sum(1 for r in services if r.pipeline),
        "outputs_flow": sum(1 for r in services if r.outputs_flow),
        "environments_second_deploy": sum(1 for r in environments if r.second_deploy),
        "services_second_deploy": sum(1 for r in services if r.second_deploy),
        "environments_deleted": sum(1 for r in environments if r.deleted),
        "environments_delete_counted": sum(1 for r in environments if r.deleted is not None),
        "services_deleted": sum(1 for r in services if r.deleted),
        "services_delete_counted": sum(1 for r in services if r.deleted is not None),
    }


def summary_line(counts: dict[str, int]) -> str:
    """The totals in the words of the issue that asked for this measurement."""
    c = counts
    return (
        f"{c['registered']} of {c['environment_bundles'] + c['service_bundles']} bundles register, "
        f"{c['rendered']} of the {c['render_tried']} deployed render; "
        f"{c['environments_deployed']} of {c['environment_bundles']} environments "
        f"and {c['services_deployed']} of {c['service_bundles']} services deploy "
        f"({c['environment_stacks_deployed']} of {c['environment_stacks']} environment stacks, "
        f"{c['instances_deployed']} of {c['instances']} instances, "
        f"{c['pipelines_deployed']} of {c['pipelines']} pipelines; outputs flow in "
        f"{c['outputs_flow']} of {c['service_bundles']} services); a second deployment succeeds for "
        f"{c['environments_second_deploy']} environments and {c['services_second_deploy']} services; "
        f"{c['environments_deleted']} of {c['environment_bundles']} environments and "
        f"{c['services_deleted']} of {c['service_bundles']} services delete cleanly on the first try "
        f"(of the {c['environments_delete_counted']} environments and {c['services_delete_counted']} "
        "services that deployed something or left something behind)"
    )
