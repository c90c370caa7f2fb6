"""Parsing and checking ``manifest.yaml`` of one infrastructure folder of a bundle.

A manifest reads ``infrastructure: {templates: [<exactly one entry>]}``. The entry picks a
rendering engine: ``jinja`` (CloudFormation, one named file), ``hcl`` (Terraform, a named ``.tf``
file or ``*`` for every ``.tf`` file directly in the folder) or ``codebuild`` (commands under
``settings``, no ``file``).

Invariants:
- `parse_manifest` returns ``{"rendering_engine", "template_language", "files"}`` plus
  ``"settings"`` for CodeBuild. ``files`` holds names relative to the part folder, sorted; each
  one exists as a regular file directly in that folder and is UTF-8 text. CodeBuild parts list no
  files (their commands may use any file of the folder).
- CodeBuild ``settings`` always carry ``input_type`` (``JSON`` unless the manifest says ``HCL``);
  optional keys whose value is null are treated as absent; unknown keys are kept as written.
- Unknown keys of a template entry are ignored, except the pre-GA ``engine`` key, which is refused
  with a pointer to ``rendering_engine``.
"""

from __future__ import annotations

from typing import Any

from baryon.bundles.errors import BundleError
from baryon.bundles.layout import manifest_path
from baryon.bundles.yamldoc import decode_text, describe_value, load_mapping

ENGINES = ("jinja", "hcl", "codebuild")
LANGUAGES = {"jinja": "cloudformation", "hcl": "terraform"}
INPUT_TYPES = ("JSON", "HCL")
_VALID_ENGINES = ", ".join(ENGINES)


def _show(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else describe_value(value)


def _folder_files(part: str, files: dict[str, bytes]) -> list[str]:
    prefix = part + "/"
    return sorted(
        path[len(prefix) :] for path in files if path.startswith(prefix) and "/" not in path[len(prefix) :]
    )


def _required(path: str, mapping: dict[Any, Any], key: str, missing: str) -> Any:
    """`mapping[key]`; a BundleError saying `missing` when the key is absent."""
    if key not in mapping:
        raise BundleError(f"{path}: {missing}")
    return mapping[key]


def _template_entry(path: str, document: dict[Any, Any]) -> dict[Any, Any]:
    infrastructure = _required(
        path,
        document,
        "infrastructure",
        "missing the top-level 'infrastructure' key; a manifest reads "
        "infrastructure: {templates: [<one template entry>]}",
    )
    if not isinstance(infrastructure, dict):
        raise BundleError(
            f"{path}: 'infrastructure' must be a mapping holding a 'templates' list, "
            f"not {describe_value(infrastructure)}"
        )
    templates = _required(
        path,
        infrastructure,
        "templates",
        "'infrastructure.templates' is missing; it must list exactly one template",
    )
    if not isinstance(templates, list):
        raise BundleError(
            f"{path}: 'infrastructure.templates' must be a list holding exactly one template entry, "
            f"not {describe_value(templates)}"
        )
    if len(templates) != 1:
        raise BundleError(
            f"{path}: 'infrastructure.templates' has {len(templates)} entries; exactly one is required"
        )
    entry = templates[0]
    if not isinstance(entry, dict):
        raise BundleError(
            f"{path}: the entry of 'infrastructure.templates' must be a mapping, not {describe_value(entry)}"
        )
    return entry


def _engine(path: str, entry: dict[Any, Any]) -> str:
    if "engine" in entry:
        raise BundleError(
            f"{path}: 'engine' is the legacy name of this key; write 'rendering_engine' instead "
            f"(one of {_VALID_ENGINES})"
        )
    engine = _required(
        path, entry, "rendering_engine", f"'rendering_engine' is required; valid values: {_VALID_ENGINES}"
    )
    if engine not in ENGINES:
        raise BundleError(f"{path}: unknown rendering_engine {_show(engine)}; valid values: {_VALID_ENGINES}")
    return str(engine)


def _iac_files(
    path: str, part: str, engine: str, entry: dict[Any, Any], files: dict[str, bytes]
) -> list[str]:
    language = LANGUAGES[engine]
    found = entry.get("template_language")
    if found != language:
        shown = "it is missing" if "template_language" not in entry else f"found {_show(found)}"
        raise BundleError(f"{path}: rendering_engine {engine} needs template_language: {language} ({shown})")
    if "file" not in entry or entry["file"] is None:
        what = (
            f"name the CloudFormation template file in {part}/"
            if engine == "jinja"
            else f"name a .tf file in {part}/, or write '*' for every .tf file there"
        )
        raise BundleError(f"{path}: 'file' is required with rendering_engine {engine}: {what}")
    name = entry["file"]
    if not isinstance(name, str) or not name:
        raise BundleError(f"{path}: 'file' must be a file name, not {describe_value(name)}")
    present = _folder_files(part, files)
    if name == "*":
        if engine != "hcl":
            raise BundleError(
                f"{path}: file '*' is only allowed with rendering_engine hcl; rendering_engine {engine} "
                "needs the name of exactly one CloudFormation template file"
            )
        chosen = [candidate for candidate in present if candidate.endswith(".tf")]
        if not chosen:
            raise BundleError(f"{path}: file '*' matches no .tf file in {part}/")
    else:
        if "/" in name or "\\" in name or name in (".", ".."):
            raise BundleError(
                f"{path}: file {_show(name)} must be the name of a file directly inside {part}/, "
                "without folders"
            )
        if engine == "hcl" and not name.endswith(".tf"):
            raise BundleError(
                f"{path}: file {_show(name)} must be a Terraform file ending in .tf, "
                f"or '*' for every .tf file in {part}/"
            )
        if name not in present:
            raise BundleError(f"{path}: file {_show(name)} not found in {part}/")
        chosen = [name]
    for candidate in chosen:
        full = f"{part}/{candidate}"
        decode_text(full, files[full])
    return chosen


def _commands(path: str, settings: dict[Any, Any], key: str, *, required: bool) -> None:
    commands = settings.get(key)
    if commands is None and not required:
        return
    if not isinstance(commands, list) or (required and not commands):
        need = "a non-empty list" if required else "a list"
        raise BundleError(
            f"{path}: settings.{key} must be {need} of shell commands (strings), "
            f"not {describe_value(commands)}"
        )
    for index, command in enumerate(commands):
        if not isinstance(command, str):
            raise BundleError(
                f"{path}: settings.{key}[{index}] must be a string holding one shell command, "
                f"not {describe_value(command)} (quote commands that contain ': ')"
            )


def _mapping(path: str, value: Any, where: str, what: str) -> dict[Any, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BundleError(f"{path}: {where} must be a mapping {what}, not {describe_value(value)}")
    return value


def _scalars(path: str, mapping: dict[Any, Any] | None, where: str) -> None:
    if mapping is None:
        return
    for name, value in mapping.items():
        if isinstance(value, dict | list) or value is None:
            raise BundleError(f"{path}: {where}.{name} must be a single value, not {describe_value(value)}")


def _codebuild_settings(path: str, entry: dict[Any, Any]) -> dict[str, Any]:
    if "file" in entry:
        raise BundleError(
            f"{path}: 'file' is not used with rendering_engine codebuild; the commands under "
            "settings.provision and settings.deprovision do the work"
        )
    settings = entry.get("settings")
    if not isinstance(settings, dict):
        raise BundleError(
            f"{path}: rendering_engine codebuild needs a 'settings' mapping with at least a 'provision' "
            f"list of commands, not {describe_value(settings)}"
        )
    _commands(path, settings, "provision", required=True)
    _commands(path, settings, "deprovision", required=False)
    image = settings.get("image")
    if image is not None and not isinstance(image, str):
        raise BundleError(
            f"{path}: settings.image must be a string naming a build image, not {describe_value(image)}"
        )
    runtimes = _mapping(path, settings.get("runtimes"), "settings.runtimes", "of runtime names to versions")
    _scalars(path, runtimes, "settings.runtimes")
    env = _mapping(path, settings.get("env"), "settings.env", "(with 'variables')")
    if env is not None:
        variables = _mapping(path, env.get("variables"), "settings.env.variables", "of names to values")
        _scalars(path, variables, "settings.env.variables")
        secrets = _mapping(
            path, env.get("secrets_manager"), "settings.env.secrets_manager", "of names to secret ids"
        )
        _scalars(path, secrets, "settings.env.secrets_manager")
    _mapping(
        path,
        settings.get("project_properties"),
        "settings.project_properties",
        "of CodeBuild project properties",
    )
    input_type = settings.get("input_type")
    if input_type is not None and input_type not in INPUT_TYPES:
        raise BundleError(f"{path}: settings.input_type must be JSON or HCL, not {_show(input_type)}")
    normalised: dict[str, Any] = {str(key): value for key, value in settings.items() if value is not None}
    normalised["input_type"] = input_type if input_type is not None else "JSON"
    return normalised


def parse_manifest(part: str, files: dict[str, bytes]) -> dict[str, Any]:
    """Check ``<part>/manifest.yaml`` against the files of the bundle and describe the part."""
    path = manifest_path(part)
    entry = _template_entry(path, load_mapping(path, files[path]))
    engine = _engine(path, entry)
    if engine == "codebuild":
        language = entry.get("template_language")
        return {
            "rendering_engine": engine,
            "template_language": language if isinstance(language, str) else None,
            "files": [],
            "settings": _codebuild_settings(path, entry),
        }
    return {
        "rendering_engine": engine,
        "template_language": LANGUAGES[engine],
        "files": _iac_files(path, part, engine, entry, files),
    }
