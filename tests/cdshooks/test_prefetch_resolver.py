"""The resolver against a real HTTP FHIR endpoint on loopback, plus the token rules of CDS Hooks
2.0 prefetch templates."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from service.cdshooks.prefetch_resolver import (
    KeyStatus,
    PrefetchTemplate,
    ResolvedPrefetch,
    render_template,
    resolve_prefetch,
)
from service.errors import BadRequest
from service.fhir.ehr_client import FhirClient
from service.settings import Settings
from tests.support.loopback_fhir import LoopbackFhir, loopback_fhir
from tests.support.resources import coverage, patient, searchset

CONTEXT = {"patientId": "pat1", "userId": "PractitionerRole/r9", "encounterId": "e1"}
TEMPLATES = {
    "patient": PrefetchTemplate("patient", "Patient/{{context.patientId}}", required=False),
    "coverage": PrefetchTemplate(
        "coverage", "Coverage?patient={{context.patientId}}&status=active", required=True
    ),
    "conditions": PrefetchTemplate("conditions", "Condition?patient={{context.patientId}}", False),
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def ehr() -> Iterator[LoopbackFhir]:
    with loopback_fhir() as server:
        server.serve("Patient/pat1", patient())
        server.serve("Coverage?patient=pat1&status=active", searchset(coverage()))
        server.serve("Condition?patient=pat1", searchset())
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def _client(http: httpx.AsyncClient, **settings: Any) -> FhirClient:
    values: dict[str, Any] = {"environment": "development"}
    values.update(settings)
    return FhirClient(http, Settings(**values))


async def _resolve(
    client: FhirClient, server: str | None, given: dict[str, Any] | None = None, **options: Any
) -> ResolvedPrefetch:
    return await resolve_prefetch(
        given,
        TEMPLATES,
        CONTEXT,
        server,
        options.pop("token", "secret-token"),
        client,
        options.pop("budget_s", 2.0),
        **options,
    )


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        pytest.param("Patient/{{context.patientId}}", "Patient/pat1", id="context-field"),
        pytest.param("Encounter/{{ context.encounterId }}", "Encounter/e1", id="spaces"),
        pytest.param(
            "PractitionerRole/{{userPractitionerRoleId}}", "PractitionerRole/r9", id="user-role"
        ),
        pytest.param("Practitioner/{{userPractitionerId}}", None, id="user-of-other-type"),
        pytest.param("X/{{context.missing}}", None, id="missing-field"),
        pytest.param("X/{{context.draftOrders.id}}", None, id="not-root-level"),
        pytest.param("X/{{context.injected}}", None, id="injection-refused"),
        pytest.param("X/{{context.flag}}", None, id="boolean-not-a-value"),
    ],
)
def test_render_template(template: str, expected: str | None) -> None:
    context = dict(CONTEXT, injected="1&_include=*", flag=True)
    assert render_template(template, context) == expected


@pytest.mark.anyio
async def test_given_prefetch_is_taken_as_is(http: httpx.AsyncClient) -> None:
    given = {
        "patient": patient(),
        "coverage": searchset(coverage()),
        "conditions": None,
        "unasked": searchset(patient("other")),
    }
    resolved = await _resolve(_client(http), None, given)
    assert resolved.statuses == {
        "patient": KeyStatus.PROVIDED,
        "coverage": KeyStatus.PROVIDED,
        "conditions": KeyStatus.EMPTY,
    }
    assert sorted(r.resource["id"] for r in resolved.resources) == ["cov1", "pat1"]


@pytest.mark.anyio
async def test_missing_keys_are_fetched_in_parallel_with_the_token(
    http: httpx.AsyncClient, ehr: LoopbackFhir
) -> None:
    for path in list(ehr.routes):
        ehr.routes[path].delay_s = 0.3  # each fetch stays open long enough to overlap the other
    resolved = await _resolve(_client(http), ehr.base_url, {"conditions": None})
    assert resolved.statuses["patient"] is KeyStatus.FETCHED
    assert resolved.statuses["coverage"] is KeyStatus.FETCHED
    assert resolved.statuses["conditions"] is KeyStatus.EMPTY
    assert ehr.most_in_flight == 2, "the two fetches did not overlap: not in parallel"
    assert sorted(path for path, _ in ehr.requests) == [
        "/Coverage?patient=pat1&status=active",
        "/Patient/pat1",
    ]
    assert {auth for _, auth in ehr.requests} == {"Bearer secret-token"}


@pytest.mark.anyio
async def test_operation_outcome_means_fetch_it_ourselves(
    http: httpx.AsyncClient, ehr: LoopbackFhir
) -> None:
    given = {
        "patient": {"resourceType": "OperationOutcome", "issue": []},
        "coverage": None,
        "conditions": None,
    }
    resolved = await _resolve(_client(http), ehr.base_url, given)
    assert resolved.statuses["patient"] is KeyStatus.FETCHED


@pytest.mark.anyio
async def test_slow_server_is_cut_off_by_the_budget(
    http: httpx.AsyncClient, ehr: LoopbackFhir
) -> None:
    ehr.routes["Coverage?patient=pat1&status=active"].delay_s = 30.0
    resolved = await _resolve(_client(http), ehr.base_url, budget_s=0.4)
    assert resolved.statuses["coverage"] is KeyStatus.FAILED
    assert resolved.statuses["patient"] is KeyStatus.FETCHED
    assert resolved.technical_failures() == ["coverage"]
    # The resolver gave up while the EHR was still working on the search.
    assert "/Coverage?patient=pat1&status=active" not in ehr.answered
    assert "/Patient/pat1" in ehr.answered


@pytest.mark.anyio
@pytest.mark.parametrize(
    "canned",
    [
        pytest.param({"status": 500, "body": {"error": "boom"}}, id="server-error"),
        pytest.param({"raw": b"{garbage"}, id="garbage-json"),
        pytest.param({"body": ["not", "a", "resource"]}, id="not-a-resource"),
        pytest.param(
            {"status": 302, "body": {}, "location": "https://evil.example.org/x"}, id="redirect"
        ),
    ],
)
async def test_server_failures_are_technical(
    http: httpx.AsyncClient, ehr: LoopbackFhir, canned: dict[str, Any]
) -> None:
    ehr.serve("Coverage?patient=pat1&status=active", **canned)
    resolved = await _resolve(_client(http), ehr.base_url)
    assert resolved.statuses["coverage"] is KeyStatus.FAILED


@pytest.mark.anyio
async def test_oversized_response_is_cut_off(http: httpx.AsyncClient, ehr: LoopbackFhir) -> None:
    ehr.serve(
        "Coverage?patient=pat1&status=active", searchset(*[coverage(f"c{i}") for i in range(200)])
    )
    resolved = await _resolve(_client(http, fetch_max_bytes=5000), ehr.base_url)
    assert resolved.statuses["coverage"] is KeyStatus.FAILED


@pytest.mark.anyio
async def test_disallowed_server_is_never_contacted(
    http: httpx.AsyncClient, ehr: LoopbackFhir
) -> None:
    production = _client(
        http, environment="production", fhir_server_allowlist=["https://ehr.example.org/fhir"]
    )
    resolved = await _resolve(production, ehr.base_url)
    assert ehr.requests == []
    assert resolved.missing_required() == ["coverage"]
    assert set(resolved.statuses.values()) == {KeyStatus.UNAVAILABLE}


@pytest.mark.anyio
async def test_no_server_means_unavailable(http: httpx.AsyncClient) -> None:
    resolved = await _resolve(_client(http), None, {"patient": patient()})
    assert resolved.statuses["coverage"] is KeyStatus.UNAVAILABLE
    assert resolved.missing_required() == ["coverage"]


@pytest.mark.anyio
async def test_extra_references_are_fetched_unless_present(
    http: httpx.AsyncClient, ehr: LoopbackFhir
) -> None:
    ehr.serve("Medication/m1", {"resourceType": "Medication", "id": "m1"})
    given = {"patient": patient(), "coverage": None, "conditions": None}
    resolved = await _resolve(
        _client(http),
        ehr.base_url,
        given,
        extra_references=["Medication/m1", "Patient/pat1", "Medication/gone"],
    )
    assert resolved.statuses["Medication/m1"] is KeyStatus.FETCHED
    assert resolved.statuses["Medication/gone"] is KeyStatus.EMPTY
    assert "Patient/pat1" not in resolved.statuses
    assert sorted(path for path, _ in ehr.requests) == ["/Medication/gone", "/Medication/m1"]


@pytest.mark.anyio
async def test_search_pages_are_followed_on_the_same_server(
    http: httpx.AsyncClient, ehr: LoopbackFhir
) -> None:
    first = searchset(coverage("c1"))
    first["link"] = [{"relation": "next", "url": f"{ehr.base_url}/Coverage?page=2"}]
    second = searchset(coverage("c2"))
    second["link"] = [
        {"relation": "next", "url": "https://elsewhere.example.org/fhir/Coverage?page=3"}
    ]
    ehr.serve("Coverage?patient=pat1&status=active", first)
    ehr.serve("Coverage?page=2", second)
    resolved = await _resolve(_client(http), ehr.base_url, {"patient": None, "conditions": None})
    assert sorted(r.resource["id"] for r in resolved.resources) == ["c1", "c2"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "value",
    [
        pytest.param("Patient/1", id="string"),
        pytest.param([patient()], id="list"),
        pytest.param({"id": "x"}, id="no-resource-type"),
        pytest.param({"resourceType": "Bundle", "entry": {"resource": {}}}, id="entry-not-array"),
        pytest.param(
            {"resourceType": "Bundle", "entry": [{"fullUrl": "x"}]}, id="entry-without-resource"
        ),
    ],
)
async def test_malformed_prefetch_is_a_400(http: httpx.AsyncClient, value: object) -> None:
    with pytest.raises(BadRequest, match="patient"):
        await _resolve(_client(http), None, {"patient": value})
