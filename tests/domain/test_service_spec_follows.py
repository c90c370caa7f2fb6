"""A service's spec written from the instances it has (`spec_with_instances`)."""

from __future__ import annotations

import yaml

from baryon.domain.specs import InstanceSpec, instance_inputs_in, spec_with_instances

SPEC = """proton: ServiceSpec
# the pipeline
pipeline:
  dockerfile: Dockerfile
instances:
  - name: front
    environment: dev
    spec:
      port: 8080
  - name: back
    environment: dev
"""


def test_text_is_kept_when_it_already_lists_the_instances() -> None:
    front = InstanceSpec("front", "dev", {"port": 8080})
    back = InstanceSpec("back", "dev", {})
    assert spec_with_instances(SPEC, [back, front]) == SPEC


def test_changed_added_and_removed_instances() -> None:
    instances = [InstanceSpec("front", "dev", {"port": 9090}), InstanceSpec("more", "prod", {"port": 7})]
    assert yaml.safe_load(spec_with_instances(SPEC, instances)) == {
        "proton": "ServiceSpec",
        "pipeline": {"dockerfile": "Dockerfile"},
        "instances": [
            {"name": "front", "environment": "dev", "spec": {"port": 9090}},
            {"name": "more", "environment": "prod", "spec": {"port": 7}},
        ],
    }


def test_instance_inputs_of_a_service_spec_or_a_bare_mapping() -> None:
    assert instance_inputs_in(SPEC)("front") == {"port": 8080}
    assert instance_inputs_in(SPEC)("back") == {}
    assert instance_inputs_in("port: 1\n")("anything") == {"port": 1}
