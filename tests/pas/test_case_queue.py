"""The reviewers' queue (service/pas/case_queue.py): each request named by its member id,
patient and age (counted to the policy's today, never the calendar), drug and ordered dose,
prescriber, received and due (overdue by the service's clock), status; searched by name, member
id or case and filtered by status through GET parameters; the case link reads as the patient."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.dtr.test_responses import answer, prefilled
from tests.pas.test_submit import SUBMIT
from tests.pas.test_workbench import _decide, _sign_in
from tests.policy.test_scenarios import SCENARIOS
from tests.support.clock import ManualClock
from tests.support.pas_requests import pas_bundle

# A 30 kg, 130 cm child (born 2014-05-01) ordered 28 mcg/day: in consolidation the policy covers
# 15 mcg/m2/day, 15.6 mcg/day for her (fhir_examples/36-...).
CHILD = next(f for f in SCENARIOS if f.name.startswith("36-"))
MEMBER_TYPE = {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MB"}
PRESCRIBER = {
    "resourceType": "Practitioner",
    "id": "prescriber",
    "name": [{"prefix": ["Dr."], "given": ["Jordan"], "family": "Rivera"}],
}


def submit_child(client: TestClient, identifier: str, member_id: str = "M-36-0001") -> str:
    """The child's request in consolidation, single agent, cycle 1: only the dose is not met."""
    response = prefilled(client, CHILD)
    for link_id, value in {
        "phase": "consolidation",
        "regimen": "single-agent",
        "cycle-number": 1,
        "first-cycle-date": "2026-11-01",
        "administration-setting": "infusion-center",
    }.items():
        answer(response, link_id, value)
    response["status"] = "completed"
    response["identifier"] = {"system": "urn:ehr:qr", "value": f"qr-{identifier}"}
    # Each request for an order of its own (the payer keeps one open request per order).
    bundle = pas_bundle(CHILD, response, identifier=identifier, order_id=f"o-{identifier}")
    resources = [e["resource"] for e in bundle["entry"]]
    (coverage,) = [r for r in resources if r["resourceType"] == "Coverage"]
    coverage["identifier"] = [{"type": {"coding": [MEMBER_TYPE]}, "value": member_id}]
    bundle["entry"].append(
        {"fullUrl": "https://ehr.example.org/fhir/Practitioner/prescriber", "resource": PRESCRIBER}
    )
    sent = client.post(SUBMIT, json=bundle)
    assert sent.status_code == 200, sent.text
    return str(sent.json()["entry"][0]["resource"]["id"])


def _row(page: str, case_id: str) -> str:
    found = re.search(rf'<tr data-case="{case_id}".*?</tr>', page, re.S)
    assert found is not None, f"case {case_id} is not in the queue"
    return re.sub(r"\s+", " ", found.group(0))


def _queue(client: TestClient, **query: str) -> Any:
    answer_ = client.get("/review", params=query)
    assert answer_.status_code == 200, answer_.text
    return answer_


def test_a_queue_row_names_who_and_what_the_request_is_about(client: TestClient) -> None:
    case_id = submit_child(client, "child-1")
    _sign_in(client)
    row = _row(_queue(client).text, case_id)
    assert f'<a href="/review/cases/{case_id}">Alex Example</a>' in row  # the link names her
    assert '<td class="member">M-36-0001</td>' in row
    assert '<td class="age">12 years</td>' in row  # born 2014-05-01, today 2026-11-24
    assert "blinatumomab 0.035 MG Injection, <strong>28 mcg/day</strong>" in row
    assert "Dr. Jordan Rivera · Example Oncology Clinic" in row
    assert "2026-11-24 12:00 UTC" in row and "2026-12-01 12:00 UTC" in row  # received, due
    assert "does not meet the criteria" in row and "pended for review" in row
    assert "overdue" not in row


def test_a_request_past_its_due_time_is_overdue_by_the_services_clock(
    client: TestClient, clock: ManualClock
) -> None:
    case_id = submit_child(client, "child-late")
    clock.advance(days=7, seconds=1)  # standard: due 7 days after receipt
    _sign_in(client)
    row = _row(_queue(client).text, case_id)
    assert 'class="overdue"' in row and '<strong class="overdue-flag">overdue</strong>' in row
    assert '<td class="age">12 years</td>' in row  # an age is counted to the policy's today


def test_search_finds_a_request_by_name_member_id_or_case(client: TestClient) -> None:
    child = submit_child(client, "child-2", member_id="M-36-0002")
    _sign_in(client)
    for search in ("alex EXAMPLE", "m-36-0002", child[:8]):
        page = _queue(client, q=search).text
        assert f'data-case="{child}"' in page, search
    nobody = _queue(client, q="Nobody Else").text
    assert f'data-case="{child}"' not in nobody and "No request matches." in nobody
    assert 'value="Nobody Else"' in nobody  # the search stays in its field


def test_the_status_filter_shows_the_requests_in_that_state(client: TestClient) -> None:
    approved, waiting = submit_child(client, "child-3"), submit_child(client, "child-4")
    _sign_in(client)
    assert _decide(client, approved, action="approve").status_code == 303
    default = _queue(client).text
    assert f'<tr data-case="{waiting}"' in default and f'<tr data-case="{approved}"' not in default
    assert f'<li data-case="{approved}">' in default  # decided lately, beside the queue
    only_approved = _queue(client, status="approved").text
    assert f'data-case="{approved}" data-status="approved"' in only_approved
    assert f'data-case="{waiting}"' not in only_approved
    assert '<option value="approved" selected>' in only_approved
    everything = _queue(client, status="all").text
    assert all(f'<tr data-case="{case}"' in everything for case in (approved, waiting))


def test_an_unknown_status_or_an_overlong_search_is_a_400_naming_it(client: TestClient) -> None:
    _sign_in(client)
    for query, named in (({"status": "lost"}, "status 'lost'"), ({"q": "x" * 101}, "search")):
        refused = client.get("/review", params=query)
        assert refused.status_code == 400, refused.text
        outcome = refused.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert named in outcome["issue"][0]["diagnostics"]
