"""`baryon template publish DIR`: pack a template folder, upload it to S3, register it as a new template
version through the Proton API, wait for the registration and optionally publish the version — what a
template author's script would do with the AWS SDK, and nothing more (no internal shortcut).

Where it connects (`connection`): when AWS_ENDPOINT_URL_PROTON is set, the environment as it is (the
standard AWS variables and credential chain: another Baryon, any S3); otherwise the `baryon.env` that
`baryon up` wrote in the data dir (its Proton endpoint, its local cloud for S3, its credentials), taking
the place of the AWS variables of the environment.

Invariants: the bundle's S3 key is derived from the archive's content (publishing the same folder twice
uploads the same object); a template is created only when GetEnvironmentTemplate / GetServiceTemplate
answers ResourceNotFoundException; the command ends with the version registered (DRAFT or PUBLISHED) or
raises `PublishError` with the reason (the registration's statusMessage, an API error's code and message).
"""

from __future__ import annotations

import hashlib
import os
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

#: Bucket used when --bucket is not given (created when missing).
DEFAULT_BUCKET = "baryon-templates"
POLL_SECONDS = 1.0
REGISTERED = ("DRAFT", "PUBLISHED")


class PublishError(Exception):
    """Publishing stopped; str(error) says why."""


@dataclass(frozen=True)
class Connection:
    """The environment variables the AWS clients are created with, and where they came from."""

    variables: dict[str, str]
    source: str


def read_env_file(path: Path) -> dict[str, str]:
    """The `export KEY=value` lines of a baryon.env file."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            words = shlex.split(value)
            values[key.strip()] = words[0] if words else ""
    return values


def connection(data_dir: Path, environ: dict[str, str] | None = None) -> Connection:
    """How to reach Baryon: the environment when it names a Proton endpoint, else the data dir's
    baryon.env."""
    environ = dict(os.environ if environ is None else environ)
    if environ.get("AWS_ENDPOINT_URL_PROTON"):
        return Connection(environ, "the environment (AWS_ENDPOINT_URL_PROTON)")
    env_file = data_dir / "baryon.env"
    if not env_file.is_file():
        raise PublishError(
            f"No Proton endpoint: AWS_ENDPOINT_URL_PROTON is not set and {env_file} does not exist "
            "(start `baryon up`, or set AWS_ENDPOINT_URL_PROTON and credentials)."
        )
    kept = {key: value for key, value in environ.items() if not key.startswith("AWS_")}
    return Connection({**kept, **read_env_file(env_file)}, str(env_file))


def _client(service: str, variables: dict[str, str]) -> Any:
    session = boto3.session.Session(
        aws_access_key_id=variables.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=variables.get("AWS_SECRET_ACCESS_KEY"),
        aws_session_token=variables.get("AWS_SESSION_TOKEN"),
        region_name=variables.get("AWS_REGION") or variables.get("AWS_DEFAULT_REGION") or "us-east-1",
    )
    endpoint = variables.get(f"AWS_ENDPOINT_URL_{service.upper()}") or variables.get("AWS_ENDPOINT_URL")
    config = Config(retries={"mode": "standard", "max_attempts": 3}, s3={"addressing_style": "path"})
    return session.client(service, endpoint_url=endpoint or None, config=config)


def _explain(error: Exception) -> str:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', 'Error')}: {details.get('Message', '')}".rstrip(": ")
    return str(error)


@dataclass(frozen=True)
class Request:
    folder: Path
    archive: bytes
    name: str
    kind: str  # "environment" or "service"
    major: str | None
    compatible: list[tuple[str, str]]
    publish: bool
    bucket: str
    has_pipeline: bool
    description: str | None = None
    timeout: float = 600.0


def _upload(s3: Any, request: Request, say: Callable[[str], None]) -> str:
    digest = hashlib.sha256(request.archive).hexdigest()[:16]
    key = f"{request.name}/{digest}.tar.gz"
    try:
        s3.head_bucket(Bucket=request.bucket)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
        s3.create_bucket(Bucket=request.bucket)
        say(f"Created bucket {request.bucket}")
    s3.put_object(Bucket=request.bucket, Key=key, Body=request.archive)
    say(f"Uploaded {request.folder} ({len(request.archive)} bytes) to s3://{request.bucket}/{key}")
    return key


def _ensure_template(proton: Any, request: Request, say: Callable[[str], None]) -> None:
    noun = "EnvironmentTemplate" if request.kind == "environment" else "ServiceTemplate"
    getter = getattr(proton, f"get_{request.kind}_template")
    try:
        getter(name=request.name)
        return
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
    params: dict[str, Any] = {"name": request.name}
    if request.kind == "service" and not request.has_pipeline:
        params["pipelineProvisioning"] = "CUSTOMER_MANAGED"
    getattr(proton, f"create_{request.kind}_template")(**params)
    say(f"Created {noun[: -len('Template')].lower()} template {request.name}")


Progress = Callable[[str, float], None]


def _wait(proton: Any, request: Request, major: str, minor: str, progress: Progress) -> Any:
    getter = getattr(proton, f"get_{request.kind}_template_version")
    member = f"{request.kind}TemplateVersion"
    started = time.monotonic()
    while True:
        version = getter(templateName=request.name, majorVersion=major, minorVersion=minor)[member]
        waited = time.monotonic() - started
        progress(str(version["status"]), waited)
        if version["status"] != "REGISTRATION_IN_PROGRESS":
            return version
        if waited > request.timeout:
            raise PublishError(
                f"Version {major}.{minor} of {request.name} was still registering after {int(waited)} s."
            )
        time.sleep(POLL_SECONDS)


def publish(
    request: Request, where: Connection, say: Callable[[str], None], progress: Callable[[str, float], None]
) -> dict[str, Any]:
    """Upload, register and (with `request.publish`) publish; the version as the API last described it."""
    try:
        s3 = _client("s3", where.variables)
        proton = _client("proton", where.variables)
        key = _upload(s3, request, say)
        _ensure_template(proton, request, say)
        params: dict[str, Any] = {
            "templateName": request.name,
            "source": {"s3": {"bucket": request.bucket, "key": key}},
        }
        if request.major:
            params["majorVersion"] = request.major
        if request.description:
            params["description"] = request.description
        if request.kind == "service":
            params["compatibleEnvironmentTemplates"] = [
                {"templateName": name, "majorVersion": major} for name, major in request.compatible
            ]
        created = getattr(proton, f"create_{request.kind}_template_version")(**params)
        version = created[f"{request.kind}TemplateVersion"]
        major, minor = str(version["majorVersion"]), str(version["minorVersion"])
        say(f"Registering {request.name} {major}.{minor}")
        version = _wait(proton, request, major, minor, progress)
        if version["status"] not in REGISTERED:
            reason = version.get("statusMessage") or version["status"]
            raise PublishError(f"Registration of {request.name} {major}.{minor} failed: {reason}")
        if request.publish:
            updated = getattr(proton, f"update_{request.kind}_template_version")(
                templateName=request.name, majorVersion=major, minorVersion=minor, status="PUBLISHED"
            )
            version = updated[f"{request.kind}TemplateVersion"]
            say(f"Published {request.name} {major}.{minor}")
        return dict(version)
    except (ClientError, BotoCoreError) as error:
        raise PublishError(_explain(error)) from None
