"""schemathesis against each service's OpenAPI document, authenticated as admin: no response
≥ 500 and none that violates the declared response schema, for valid (positive) and invalid
(negative) inputs. Examples per operation are bounded (``EXAMPLES``) so it fits in `make test`;
the requests sent per service are printed at the end of the session."""

from __future__ import annotations

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from robson_kit.testing import token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from .conftest import Running
from .fuzzing import FAILED, SENT
from .registry import OPS_PATHS, SERVICES

EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 10}
CHECKS = [not_a_server_error, response_schema_conformance]
ADMIN = {"Authorization": f"Bearer {token('admin', subject='fuzzer')}"}


def _fuzz_operation(operation, mode: GenerationMode, base_url: str, name: str) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES[mode], deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case) -> None:
        response = case.call(base_url=base_url, headers=ADMIN, timeout=15)
        SENT[name] += 1
        case.validate_response(response, checks=CHECKS)

    run()


@pytest.mark.parametrize("svc", SERVICES, ids=lambda s: s.name)
def test_fuzzing_the_api_as_admin_finds_no_5xx_and_no_schema_violation(running: Running, svc) -> None:
    base_url = running.url(svc.name)
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/stream" or operation.path in OPS_PATHS:
            continue  # an endless event stream (covered by test_routes); the open ops routes
        for mode in EXAMPLES:
            started = time.monotonic()
            try:
                _fuzz_operation(operation, mode, base_url, svc.name)
            except Unsatisfiable:  # no invalid input exists (an operation without parameters)
                pass
            except (Exception, BaseExceptionGroup) as exc:  # every failing operation, not the first
                FAILED[svc.name] += 1
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {_brief(exc)}")
                print("FUZZ FAILURE", failures[-1])
            print(f"fuzz {svc.name} {operation.method.upper()} {operation.path} {mode.value}: "
                  f"{time.monotonic() - started:.1f}s")
    assert not failures, "\n".join(failures)
    assert SENT[svc.name] > 0, f"{svc.name}: no request was sent (an empty schema fuzzes nothing)"


def _brief(exc: BaseException) -> str:
    """The failure's title, status and the curl line that reproduces it."""
    if isinstance(exc, BaseExceptionGroup) and not str(exc).lstrip().startswith(("Schemathesis", "-")):
        return " || ".join(_brief(e) for e in exc.exceptions)
    lines = [ln.strip() for ln in str(exc).splitlines()]
    keep = [ln for ln in lines if ln.startswith(("- ST", "[", "curl", "Value", "{", '"'))]
    return " | ".join(keep)[:600] or lines[0][:600]
