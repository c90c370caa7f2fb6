"""How an error of the local cloud itself is told apart and worded (no HTML, no XML dump)."""

from __future__ import annotations

from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from baryon.engine.provisioners import errors
from baryon.engine.provisioners.errors import ProvisionError
from baryon.engine.provisioners.localcloud import layer


def from_boto(exc: Exception, doing: str) -> ProvisionError:
    """The ProvisionError the stack calls raise for `exc` (`raise from_boto(...) from exc`)."""
    error = errors.from_boto(exc, doing)
    error.__cause__ = exc
    return error


HTML = (
    "Unable to parse response (syntax error: line 1, column 0), invalid XML received. Further retries may "
    "succeed:\nb'<!doctype html>\\n<html lang=en>\\n<title>500 Internal Server Error</title>\\n<h1>Internal "
    "Server Error</h1>\\n'"
)
JSON_IN_XML = (
    "Unable to parse response (syntax error: line 1, column 0), invalid XML received. Further retries may "
    'succeed:\nb\'{"__type": "ResourceAlreadyExistsException", "message": "Stage prod already exists"}\''
)


def test_an_html_500_is_an_internal_error_of_the_local_cloud() -> None:
    error = from_boto(ResponseParserError(HTML), "CreateStack AWSProton-dev-1")
    assert layer._local_defect(error)
    assert layer._what_it_said(error) == "an internal error (HTTP 500)"


def test_json_inside_the_xml_protocol_is_quoted() -> None:
    error = from_boto(ResponseParserError(JSON_IN_XML), "UpdateStack AWSProton-dev-1")
    assert layer._local_defect(error)
    assert layer._what_it_said(error) == "ResourceAlreadyExistsException: Stage prod already exists"


def test_an_internal_failure_code_is_the_local_clouds_and_a_validation_error_is_not() -> None:
    internal = ClientError(
        {
            "Error": {"Code": "InternalFailure", "Message": "boom"},
            "ResponseMetadata": {"HTTPStatusCode": 500, "HTTPHeaders": {"content-type": "text/xml"}},
        },
        "CreateStack",
    )
    error = from_boto(internal, "CreateStack AWSProton-dev-1")
    assert error.transient  # for AWS: retried
    assert layer._local_defect(error)
    assert layer._what_it_said(error) == "an internal error (InternalFailure: boom)"
    refused = ClientError(
        {"Error": {"Code": "ValidationError", "Message": "bad"}, "ResponseMetadata": {"HTTPStatusCode": 400}},
        "CreateStack",
    )
    assert not layer._local_defect(from_boto(refused, "CreateStack AWSProton-dev-1"))
