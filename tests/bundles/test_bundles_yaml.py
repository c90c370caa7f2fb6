"""Every YAML file of a bundle is read by the one safe reader: NUL characters, numbers beyond 64 bits and
deep nesting are refused before anything recurses, naming the file; repeated keys keep the last value."""

from __future__ import annotations

from baryon.bundles import load_bundle
from tests.bundles.bundlekit import ENV_SCHEMA
from tests.bundles.test_bundles_load import env_with_schema, rejected


def test_bundle_yaml_refuses_nul_characters_huge_numbers_and_depth_before_parsing_further() -> None:
    line = ENV_SCHEMA.count("\n") + 1
    assert rejected(env_with_schema(ENV_SCHEMA + 'x-nul: "a\\0b"\n')) == (
        f"schema/schema.yaml: line {line}, column 8: the NUL character (\\0) is not allowed"
    )
    assert rejected(env_with_schema(ENV_SCHEMA + "x-big: " + "9" * 5000 + "\n")) == (
        f"schema/schema.yaml: line {line}, column 8: integers must fit in 64 bits; "
        "quote the value if it is text"
    )
    assert rejected(env_with_schema(ENV_SCHEMA + "x-deep: " + "[" * 20_000 + "]" * 20_000 + "\n")) == (
        "schema/schema.yaml is nested more than 64 levels deep (or a YAML alias refers to itself)"
    )


def test_bundle_yaml_keeps_the_last_of_repeated_keys() -> None:
    info = load_bundle(env_with_schema(ENV_SCHEMA + "x-twice: 1\nx-twice: 2\n"), kind="ENVIRONMENT")
    assert info.schema["x-twice"] == 2
