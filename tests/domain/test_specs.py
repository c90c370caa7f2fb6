"""Parsing EnvironmentSpec / ServiceSpec documents, the UpdateServiceInstance / UpdateServicePipeline
shapes, CURRENT_VAL substitution and rebuilding stored documents."""

from __future__ import annotations

import pytest

from baryon.domain.specs import (
    CURRENT_VAL,
    InstanceSpec,
    dump_spec,
    load_spec_yaml,
    parse_environment_spec,
    parse_instance_spec_from_service_spec,
    parse_pipeline_spec,
    parse_service_spec,
    replace_instance_inputs,
    replace_pipeline_inputs,
    resolve_current_values,
)
from baryon.protocol.errors import ValidationException

SERVICE = """\
proton: ServiceSpec
pipeline:
  dockerfile: Dockerfile
instances:
  - name: front
    environment: dev
    spec:
      port: 8080
      image: "nginx:1"
  - name: back-2
    environment: prod_env
"""

BAD_NAME = (
    "Invalid spec: instance 1: 'name' must be 1 to 100 characters matching ^[0-9A-Za-z]+[0-9A-Za-z_\\-]*$"
)


def _error(call: object, *args: object) -> str:
    assert callable(call)
    with pytest.raises(ValidationException) as caught:
        call(*args)
    return caught.value.message


# --- EnvironmentSpec -------------------------------------------------------------------------------


def test_environment_spec_inputs() -> None:
    text = "proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.0.0.0/16\n  azs: 2\n"
    assert parse_environment_spec(text) == {"vpc_cidr": "10.0.0.0/16", "azs": 2}


@pytest.mark.parametrize(
    "text",
    ["proton: EnvironmentSpec\n", "proton: EnvironmentSpec\nspec:\n", "spec: {}\nproton: EnvironmentSpec"],
)
def test_environment_spec_without_inputs(text: str) -> None:
    assert parse_environment_spec(text) == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "Spec must be a YAML mapping starting with 'proton: EnvironmentSpec'; it is empty"),
        ("- a\n", "Spec must be a YAML mapping starting with 'proton: EnvironmentSpec'; it is a list"),
        (
            "just text\n",
            "Spec must be a YAML mapping starting with 'proton: EnvironmentSpec'; it is a string",
        ),
        ("42\n", "Spec must be a YAML mapping starting with 'proton: EnvironmentSpec'; it is a number"),
        ("spec: {}\n", "Spec must start with 'proton: EnvironmentSpec'"),
        ("proton: ServiceSpec\nspec: {}\n", "Spec must start with 'proton: EnvironmentSpec'"),
        ("proton: environmentspec\n", "Spec must start with 'proton: EnvironmentSpec'"),
        (
            "proton: EnvironmentSpec\nspec: [a]\n",
            "Invalid spec: 'spec' must be a mapping of inputs, not a list",
        ),
        (
            "proton: EnvironmentSpec\nspecs: {}\nspec: 5\n",
            "Invalid spec: unknown key 'specs' (an EnvironmentSpec has only proton and spec); "
            "'spec' must be a mapping of inputs, not a number",
        ),
    ],
)
def test_environment_spec_errors(text: str, expected: str) -> None:
    assert _error(parse_environment_spec, text) == expected


# --- ServiceSpec -----------------------------------------------------------------------------------


def test_service_spec() -> None:
    service = parse_service_spec(SERVICE)
    assert service.pipeline == {"dockerfile": "Dockerfile"}
    assert service.instances == [
        InstanceSpec(name="front", environment="dev", inputs={"port": 8080, "image": "nginx:1"}),
        InstanceSpec(name="back-2", environment="prod_env", inputs={}),
    ]
    assert service.document["instances"][0]["spec"] == {"port": 8080, "image": "nginx:1"}
    assert service.document["proton"] == "ServiceSpec"


def test_service_spec_inputs_are_independent_copies() -> None:
    service = parse_service_spec(SERVICE)
    service.instances[0].inputs["port"] = 1
    assert service.document["instances"][0]["spec"]["port"] == 8080


def test_pipeline_absent_null_and_empty() -> None:
    instances = "instances:\n  - name: a\n    environment: e\n"
    assert parse_service_spec("proton: ServiceSpec\n" + instances).pipeline is None
    assert parse_service_spec("proton: ServiceSpec\npipeline:\n" + instances).pipeline == {}
    assert parse_service_spec("proton: ServiceSpec\npipeline: {}\n" + instances).pipeline == {}


def test_instance_spec_null_means_no_inputs() -> None:
    service = parse_service_spec(
        "proton: ServiceSpec\ninstances:\n  - name: a\n    environment: e\n    spec:\n"
    )
    assert service.instances[0].inputs == {}


@pytest.mark.parametrize(
    "instances",
    ["", "instances:\n", "instances: []\n"],
)
def test_a_service_needs_an_instance(instances: str) -> None:
    assert _error(parse_service_spec, "proton: ServiceSpec\n" + instances) == (
        "Invalid spec: a service needs at least one instance under 'instances'"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[]\n", "Spec must be a YAML mapping starting with 'proton: ServiceSpec'; it is a list"),
        ("proton: EnvironmentSpec\n", "Spec must start with 'proton: ServiceSpec'"),
        ("instances: []\n", "Spec must start with 'proton: ServiceSpec'"),
        ("proton: true\n", "Spec must start with 'proton: ServiceSpec'"),
        (
            "proton: ServiceSpec\ninstances: {name: a}\n",
            "Invalid spec: 'instances' must be a list of instances, not a mapping",
        ),
        (
            "proton: ServiceSpec\npipeline: [x]\ninstances:\n  - name: a\n    environment: e\n",
            "Invalid spec: 'pipeline' must be a mapping of inputs, not a list",
        ),
        (
            "proton: ServiceSpec\nspec: {}\ninstances:\n  - name: a\n    environment: e\n",
            "Invalid spec: unknown key 'spec' (a ServiceSpec has only proton, pipeline and instances)",
        ),
        (
            "proton: ServiceSpec\ninstances:\n  - just-a-name\n",
            "Invalid spec: instance 1: must be a mapping with name, environment and spec, not a string",
        ),
        (
            "proton: ServiceSpec\ninstances:\n  - environment: e\n",
            "Invalid spec: instance 1: 'name' is missing",
        ),
        (
            "proton: ServiceSpec\ninstances:\n  - name: 123\n    environment: e\n",
            "Invalid spec: instance 1: 'name' must be a string, not a number; quote it",
        ),
        (
            "proton: ServiceSpec\ninstances:\n  - name: bad name\n    environment: e\n",
            BAD_NAME,
        ),
        (
            "proton: ServiceSpec\ninstances:\n  - name: -front\n    environment: e\n",
            BAD_NAME,
        ),
        (
            "proton: ServiceSpec\ninstances:\n  - name: ''\n    environment: e\n",
            BAD_NAME,
        ),
        (
            "proton: ServiceSpec\ninstances:\n  - name: front\n",
            "Invalid spec: service instance front: 'environment' is missing",
        ),
        (
            "proton: ServiceSpec\ninstances:\n  - name: front\n    environment: my env\n",
            "Invalid spec: service instance front: 'environment' must be 1 to 100 characters matching "
            "^[0-9A-Za-z]+[0-9A-Za-z_\\-]*$",
        ),
        (
            "proton: ServiceSpec\ninstances:\n  - name: front\n    environment: [dev]\n",
            "Invalid spec: service instance front: 'environment' must be a string, not a list; quote it",
        ),
        (
            "proton: ServiceSpec\ninstances:\n  - name: front\n    environment: dev\n    spec: 3\n",
            "Invalid spec: service instance front: 'spec' must be a mapping of inputs, not a number",
        ),
        (
            "proton: ServiceSpec\ninstances:\n  - name: front\n    environment: dev\n    specs: {}\n",
            "Invalid spec: service instance front: unknown key 'specs' "
            "(an instance has only name, environment and spec)",
        ),
    ],
)
def test_service_spec_errors(text: str, expected: str) -> None:
    assert _error(parse_service_spec, text) == expected


def test_name_length_limit() -> None:
    ok = "a" * 100
    assert parse_service_spec(f"proton: ServiceSpec\ninstances:\n  - name: {ok}\n    environment: {ok}\n")
    assert _error(
        parse_service_spec, f"proton: ServiceSpec\ninstances:\n  - name: {ok}b\n    environment: e\n"
    ) == (
        "Invalid spec: instance 1: 'name' must be 1 to 100 characters matching ^[0-9A-Za-z]+[0-9A-Za-z_\\-]*$"
    )


def test_all_structural_problems_are_reported_in_document_order() -> None:
    text = """\
proton: ServiceSpec
pipeline: 5
instances:
  - name: front
    environment: dev
  - name: front
  - environment: dev
    spec: []
  - name: back
    environment: prod
    extra: 1
"""
    assert _error(parse_service_spec, text) == (
        "Invalid spec: 'pipeline' must be a mapping of inputs, not a number; "
        "instance name 'front' is used more than once; "
        "service instance front: 'environment' is missing; "
        "instance 3: 'name' is missing; "
        "instance 3: 'spec' must be a mapping of inputs, not a list; "
        "service instance back: unknown key 'extra' (an instance has only name, environment and spec)"
    )


# --- UpdateServiceInstance shapes ------------------------------------------------------------------


def test_instance_inputs_from_a_whole_service_spec() -> None:
    assert parse_instance_spec_from_service_spec(SERVICE, "front") == {"port": 8080, "image": "nginx:1"}
    assert parse_instance_spec_from_service_spec(SERVICE, "back-2") == {}


def test_instance_inputs_from_a_bare_mapping() -> None:
    assert parse_instance_spec_from_service_spec("port: 80\nimage: x\n", "front") == {
        "port": 80,
        "image": "x",
    }
    assert parse_instance_spec_from_service_spec("{}", "front") == {}
    assert parse_instance_spec_from_service_spec("# nothing\n", "front") == {}


def test_instance_missing_from_the_service_spec() -> None:
    assert _error(parse_instance_spec_from_service_spec, SERVICE, "other") == (
        "Invalid spec: the ServiceSpec lists no instance named 'other'"
    )


def test_instance_shapes_errors() -> None:
    assert _error(parse_instance_spec_from_service_spec, "- a\n", "front") == (
        "Spec must be a YAML mapping (a 'proton: ServiceSpec' document or a mapping of inputs); it is a list"
    )
    assert _error(parse_instance_spec_from_service_spec, "proton: EnvironmentSpec\nspec: {}\n", "front") == (
        "Spec must start with 'proton: ServiceSpec'"
    )
    assert _error(parse_instance_spec_from_service_spec, "proton: ServiceSpec\ninstances: []\n", "front") == (
        "Invalid spec: a service needs at least one instance under 'instances'"
    )
    assert _error(parse_instance_spec_from_service_spec, "port: [\n", "front") == (
        "Spec is not valid YAML: line 2, column 1: expected the node content, but found '<stream end>'"
    )


# --- UpdateServicePipeline shapes ------------------------------------------------------------------


def test_pipeline_inputs_from_a_whole_service_spec() -> None:
    assert parse_pipeline_spec(SERVICE) == {"dockerfile": "Dockerfile"}
    assert parse_pipeline_spec("proton: ServiceSpec\npipeline:\n") == {}
    assert parse_pipeline_spec("proton: ServiceSpec\npipeline: {a: 1}\ninstances: []\n") == {"a": 1}


def test_pipeline_inputs_from_a_bare_mapping() -> None:
    assert parse_pipeline_spec("dockerfile: Dockerfile\nunit_test_command: make test\n") == {
        "dockerfile": "Dockerfile",
        "unit_test_command": "make test",
    }
    assert parse_pipeline_spec("") == {}


def test_pipeline_shapes_errors() -> None:
    assert _error(
        parse_pipeline_spec, "proton: ServiceSpec\ninstances:\n  - name: a\n    environment: e\n"
    ) == ("Invalid spec: the ServiceSpec has no 'pipeline' section")
    assert _error(parse_pipeline_spec, "proton: ServiceSpec\npipeline: x\n") == (
        "Invalid spec: 'pipeline' must be a mapping of inputs, not a string"
    )
    assert _error(parse_pipeline_spec, "proton: ServiceSpec\npipeline: {}\ninstances:\n  - name: a\n") == (
        "Invalid spec: service instance a: 'environment' is missing"
    )
    assert _error(parse_pipeline_spec, "proton: Pipeline\n") == "Spec must start with 'proton: ServiceSpec'"
    assert _error(parse_pipeline_spec, "5\n") == (
        "Spec must be a YAML mapping (a 'proton: ServiceSpec' document or a mapping of inputs); "
        "it is a number"
    )


# --- CURRENT_VAL -----------------------------------------------------------------------------------


def test_current_values_replace_placeholders() -> None:
    values = {"image": CURRENT_VAL, "port": 80, "tags": [CURRENT_VAL], "note": f"keep {CURRENT_VAL}"}
    current = {"image": "nginx:1", "port": 8080, "tags": ["a"], "note": "old"}
    assert resolve_current_values(values, current) == {
        "image": "nginx:1",
        "port": 80,
        "tags": [CURRENT_VAL],
        "note": f"keep {CURRENT_VAL}",
    }


def test_current_values_without_a_current_value_are_dropped() -> None:
    values = {"a": CURRENT_VAL, "b": CURRENT_VAL, "c": 1}
    assert resolve_current_values(values, {"b": None}) == {"c": 1}
    assert resolve_current_values(values, {}) == {"c": 1}


def test_current_values_keep_order_and_copy() -> None:
    current = {"obj": {"k": [1]}}
    resolved = resolve_current_values({"z": 1, "obj": CURRENT_VAL, "a": 2}, current)
    assert list(resolved) == ["z", "obj", "a"]
    resolved["obj"]["k"].append(2)
    assert current == {"obj": {"k": [1]}}


def test_current_values_keep_json_types_of_stored_values() -> None:
    current = {"flag": False, "count": 0, "ratio": 0.5, "empty": ""}
    values = dict.fromkeys(current, CURRENT_VAL)
    assert resolve_current_values(values, current) == current


def test_current_val_through_a_whole_update() -> None:
    stored = parse_service_spec(SERVICE)
    update = SERVICE.replace('image: "nginx:1"', f'image: "{CURRENT_VAL}"').replace(
        "port: 8080", "port: 9090"
    )
    given = parse_instance_spec_from_service_spec(update, "front")
    current = next(item.inputs for item in stored.instances if item.name == "front")
    resolved = resolve_current_values(given, current)
    assert resolved == {"port": 9090, "image": "nginx:1"}
    document = replace_instance_inputs(stored.document, "front", resolved)
    assert parse_instance_spec_from_service_spec(dump_spec(document), "front") == resolved


# --- stored documents ------------------------------------------------------------------------------


def test_replace_instance_inputs_copies() -> None:
    stored = parse_service_spec(SERVICE)
    document = replace_instance_inputs(stored.document, "back-2", {"port": 1})
    assert document["instances"][1] == {"name": "back-2", "environment": "prod_env", "spec": {"port": 1}}
    assert "spec" not in stored.document["instances"][1]
    with pytest.raises(KeyError):
        replace_instance_inputs(stored.document, "nope", {})


def test_replace_pipeline_inputs() -> None:
    stored = parse_service_spec("proton: ServiceSpec\ninstances:\n  - name: a\n    environment: e\n")
    document = replace_pipeline_inputs(stored.document, {"dockerfile": "D"})
    assert dump_spec(document) == (
        "proton: ServiceSpec\npipeline:\n  dockerfile: D\ninstances:\n- name: a\n  environment: e\n"
    )
    assert "pipeline" not in stored.document


def test_dump_spec_keeps_a_next_line_character() -> None:
    for text in ("x\x85y", "\x85", "a b\x85", "a\u2028b"):
        document = {"proton": "EnvironmentSpec", "spec": {"a": text, f"k{text}": 1}}
        assert load_spec_yaml(dump_spec(document)) == document
