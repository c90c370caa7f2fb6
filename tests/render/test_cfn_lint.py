"""`baryon.render.cfn_lint`: cfn-lint's findings on a rendered template as Baryon reports them."""

from __future__ import annotations

from baryon.render import cfn_lint

FILE = "instance_infrastructure/cloudformation.yaml"


def _queues(count: int) -> str:
    body = "".join(
        f"  Queue{n}:\n    Type: AWS::SQS::Queue\n    Properties:\n      Colour: red\n" for n in range(count)
    )
    return "Resources:\n" + body


def test_errors_and_warnings_name_rule_file_and_line() -> None:
    text = "Parameters:\n  Unused:\n    Type: String\n" + _queues(1)
    result = cfn_lint.lint(text, FILE, "eu-west-1")
    assert [f.message() for f in result.errors] == [
        f"cfn-lint E3002 in {FILE} line 8: Additional properties are not allowed ('Colour' was unexpected)"
    ]
    assert [f.message() for f in result.warnings] == [
        f"cfn-lint W2001 in {FILE} line 2: Parameter Unused not used."
    ]


def test_the_failure_lists_ten_errors_and_counts_the_rest() -> None:
    result = cfn_lint.lint(_queues(12), FILE)
    lines = cfn_lint.failure(result).splitlines()
    assert len(lines) == 11
    assert lines[0].startswith(f"cfn-lint E3002 in {FILE} line 5: ")
    assert lines[-1] == "… and 2 more cfn-lint errors"


def test_demoted_errors_are_warnings() -> None:
    result = cfn_lint.demoted(cfn_lint.lint(_queues(1), FILE))
    assert result.errors == ()
    assert [(f.rule, f.level) for f in result.warnings] == [("E3002", "warning")]


def test_ignored_rules_and_template_directives_are_not_reported() -> None:
    assert cfn_lint.lint(_queues(1), FILE, ignore=("E3002",)).clean
    directive = "Metadata:\n  cfn-lint:\n    config:\n      ignore_checks: [E3002]\n" + _queues(1)
    assert cfn_lint.lint(directive, FILE).clean


def test_text_that_is_not_yaml_is_an_error_with_its_line() -> None:
    result = cfn_lint.lint("Resources:\n  Queue: [\n", FILE)
    assert [(f.rule, f.line) for f in result.errors] == [("E0000", 3)]


def test_a_region_cfn_lint_does_not_know_is_linted_as_us_east_1() -> None:
    assert cfn_lint.lint(_queues(1), FILE, "local-1").errors == cfn_lint.lint(_queues(1), FILE).errors
