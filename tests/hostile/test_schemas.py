"""schemathesis against both services' OpenAPI schemas: whatever a client sends within (and
around) the schema, no 5xx, and every answer conforms to the schema it publishes."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import APIOperation, Case, CheckFunction, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok
from schemathesis.schemas import BaseSchema

from tests.faults.conftest import FaultStack
from tests.faults.figures import record

Operation = APIOperation[Any, Any, Any, Any]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
FUZZ = settings(
    max_examples=20,
    derandomize=True,  # the same examples every run: a failure here is reproducible
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def fuzz(
    schema: BaseSchema,
    headers: dict[str, str] | None = None,
    checks: list[CheckFunction] = CHECKS,
) -> dict[str, int]:
    """Every operation, valid and invalid inputs; returns how many examples each got."""
    examples = {}
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the published schema must be valid
        examples[result.ok().label] = fuzz_operation(result.ok(), headers, checks)
    return examples


def fuzz_operation(
    operation: Operation, headers: dict[str, str] | None, checks: list[CheckFunction]
) -> int:
    calls = []
    cases = operation.as_strategy(generation_mode=GenerationMode.POSITIVE) | operation.as_strategy(
        generation_mode=GenerationMode.NEGATIVE
    )

    @FUZZ
    @given(case=cases)
    def call(case: Case[Operation]) -> None:
        calls.append(case)
        case.call_and_validate(headers=headers, checks=checks)

    call()
    return len(calls)


def test_ingest_answers_every_request_within_its_schema(hostile: FaultStack) -> None:
    schema = schemathesis.openapi.from_url(hostile.stack.urls["ingest_url"] + "/openapi.json")
    examples = fuzz(schema, {"Authorization": f"Bearer {hostile.key}"})
    assert "POST /v1/articles" in examples
    record("schemathesis: ingest", operations=len(examples), examples=sum(examples.values()))


def test_counter_never_answers_5xx(hostile: FaultStack) -> None:
    schema = schemathesis.openapi.from_url(hostile.stack.urls["counter_url"] + "/openapi.json")
    examples = fuzz(schema, checks=[not_a_server_error])
    assert "POST /v1/hits/{article_id}" in examples
    record("schemathesis: counter", operations=len(examples), examples=sum(examples.values()))


def test_counter_answers_conform_to_its_schema(hostile: FaultStack) -> None:
    schema = schemathesis.openapi.from_url(hostile.stack.urls["counter_url"] + "/openapi.json")
    fuzz(schema)
