"""The response contract check inside `aws` CLI processes that the end-to-end tests run.

The AWS CLI (v1, on the tests' Python) loads plugins named in the `[plugins]` section of its config file
and calls their `awscli_initialize` with its event hooks. `config_env(directory)` writes such a config file
naming this module and returns the environment variables that make `aws` read it; every Proton response
the CLI then receives goes through `tests.support.contract.check_response` before botocore parses it, and a
violation makes the command fail (exit status 255) with the operation and member path on stderr.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def awscli_initialize(event_hooks: Any) -> None:
    """The CLI's entry point for a plugin: check every Proton response against the model."""
    from tests.support.contract import check_response

    def before_parse(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        check_response(operation_model.name, int(response_dict["status_code"]), bytes(response_dict["body"]))

    event_hooks.register("before-parse.proton", before_parse)


def config_env(directory: Path) -> dict[str, str]:
    """Environment variables that make `aws` load this plugin (and no other configuration): the config
    file, and the checkout on the module path ahead of what this process has there."""
    config = directory / "aws-config"
    config.write_text("[plugins]\nproton_contract = tests.support.awscli_contract\n")
    path = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {"AWS_CONFIG_FILE": str(config), "PYTHONPATH": os.pathsep.join(path)}
