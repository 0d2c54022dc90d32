"""The clinical reviewers' workbench: only a signed-in reviewer sees the queue and a case; the case
shows the policy's criteria with their evidence and origins, the limits and what the prescriber
changed; an approval, a denial with a reason tied to a criterion, or a request for more
information becomes the ClaimResponse `$inquire` returns, appended to the case's history."""

from __future__ import annotations

import html
import json
import re
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from service.auth.reviewers import COOKIE, SESSION_LIFETIME
from tests.dtr.test_responses import _completed, answer
from tests.pas.conftest import PASSWORD
from tests.pas.test_submit import INQUIRE, SUBMIT, _action
from tests.policy.test_display_words import leaks
from tests.policy.test_scenarios import SCENARIOS
from tests.support.clock import ManualClock
from tests.support.pas_profiles import PAS as PAS_PROFILES
from tests.support.pas_profiles import profile_issues
from tests.support.pas_requests import inquiry_bundle, pas_bundle


def _sign_in(client: TestClient, password: str = PASSWORD, username: str = "rn.lee") -> Any:
    """As a browser does: the sign-in page first (its form token and cookie), then the form."""
    token = _csrf(client.get("/review/login").text)
    return client.post(
        "/review/login",
        content=f"csrf={token}&username={username}&password={password.replace(' ', '+')}",
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def _submit(
    client: TestClient, identifier: str = "claim-1", **changes: Any
) -> tuple[dict[str, Any], str]:
    response = _completed(client)
    for link_id, value in changes.items():
        answer(response, link_id, value)
    bundle = pas_bundle(SCENARIOS[0], response, identifier=identifier)
    sent = client.post(SUBMIT, json=bundle)
    assert sent.status_code == 200, sent.text
    return bundle, str(sent.json()["entry"][0]["resource"]["id"])


def _propose(client: TestClient, case_id: str, **form: str) -> Any:
    """The case page's form posted: a final decision answers with its confirmation page."""
    page = client.get(f"/review/cases/{case_id}").text
    return _post(client, f"/review/cases/{case_id}", {"csrf": _csrf(page), **form})


def _post(client: TestClient, path: str, form: dict[str, str]) -> Any:
    return client.post(
        path,
        content=urlencode(form),
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )


def confirm(client: TestClient, page: str) -> Any:
    """The confirmation page's form posted as a browser does: its action, its hidden fields."""
    action = re.search(r'<form method="post" action="([^"]+/confirm)"', page)
    assert action is not None, "not a confirmation page"
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page))
    return _post(client, action.group(1), {k: html.unescape(v) for k, v in fields.items()})


def _decide(client: TestClient, case_id: str, **form: str) -> Any:
    """Proposed, then confirmed when the answer is a confirmation page."""
    proposed = _propose(client, case_id, **form)
    if proposed.status_code != 200 or 'id="confirm-decision"' not in proposed.text:
        return proposed
    return confirm(client, proposed.text)


def test_nobody_sees_a_case_without_signing_in(client: TestClient) -> None:
    _, case_id = _submit(client)
    for path in ("/review", f"/review/cases/{case_id}"):
        answer_ = client.get(path, follow_redirects=False)
        assert (answer_.status_code, answer_.headers["location"]) == (303, "/review/login")
    posted = client.post(
        f"/review/cases/{case_id}", content="action=approve", follow_redirects=False
    )
    assert posted.status_code == 303


def test_a_wrong_password_and_an_unknown_name_read_the_same(client: TestClient) -> None:
    wrong, unknown = _sign_in(client, "guess"), _sign_in(client, PASSWORD, "nobody")
    assert wrong.status_code == unknown.status_code == 401
    assert "do not match" in wrong.text and "do not match" in unknown.text
    assert COOKIE not in wrong.headers.get("set-cookie", "")  # no session; the form's token only


def test_the_session_cookie_is_http_only_strict_and_scoped(client: TestClient) -> None:
    signed = _sign_in(client)
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/review" in cookie
    assert "secure" in cookie


def test_the_queue_and_the_case_show_the_policys_criteria_and_evidence(client: TestClient) -> None:
    _, case_id = _submit(client)
    _sign_in(client)
    queue = client.get("/review")
    assert queue.status_code == 200
    assert f'data-case="{case_id}"' in queue.text
    assert queue.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in queue.headers["content-security-policy"]
    case = client.get(f"/review/cases/{case_id}").text
    assert 'data-criterion="PHASE" data-status="met"' in case
    assert "Treatment phase" in case  # the policy's words for it
    assert "entered by the prescriber" in case  # the answer's origin
    assert "from the record" in case
    assert "Daily dose: up to 28 mcg/day" in case  # the limit and its unit, from the contract
    assert "28 ug/d continuous IV infusion" in case  # what the order asks for, in its words
    # The place of service (SPEC section 2, SITE), answered by the prescriber.
    assert 'data-criterion="SITE" data-status="met"' in case
    assert "Place of service the policy lists" in case


def test_home_administration_is_shown_not_met_for_the_reviewer_to_decide(
    client: TestClient,
) -> None:
    """SPEC section 2, SITE: home is not a place of service the policy lists; the case says so,
    with the prescriber's answer, and the reviewer still decides."""
    _, case_id = _submit(client, **{"administration-setting": "home"})
    _sign_in(client)
    case = client.get(f"/review/cases/{case_id}").text
    assert 'data-criterion="SITE" data-status="not-met"' in case
    assert "Where will blinatumomab be given?: <strong>Home</strong>" in case  # its display
    assert 'id="approve"' in case and 'id="deny"' in case


def test_an_approval_reaches_inquire_with_its_number_and_period(client: TestClient) -> None:
    bundle, case_id = _submit(client)
    _sign_in(client)
    decided = _decide(client, case_id, action="approve", start="2026-11-01", end="2027-10-31")
    assert decided.status_code == 303
    current = client.post(INQUIRE, json=inquiry_bundle(bundle)).json()["entry"][0]["resource"]
    assert current["outcome"] == "complete"
    assert _action(current) == "A1"
    assert re.fullmatch(r"PA\d{8}-[2-9A-Z]{6}", current["preAuthRef"])
    assert current["preAuthPeriod"] == {"start": "2026-11-01", "end": "2027-10-31"}
    case = client.get(f"/review/cases/{case_id}").text
    assert current["preAuthRef"] in case
    assert 'data-action="approve"' in case and 'data-action="pend"' in case  # the history
    again = _decide(client, case_id, action="deny", reason="DOSE")
    assert again.status_code == 409  # decided is final: the case again, with who decided it
    assert "already approved by rn.lee" in again.text


def test_a_denial_names_its_criterion(client: TestClient) -> None:
    bundle, case_id = _submit(client, **{"cycle-number": 5})  # consolidation allows 4
    _sign_in(client)
    decided = _decide(client, case_id, action="deny", reason="CYCLES", note="Cycle 5 of 4.")
    assert decided.status_code == 303
    current = client.post(INQUIRE, json=inquiry_bundle(bundle)).json()["entry"][0]["resource"]
    assert _action(current) == "A3"
    reason = current["item"][0]["adjudication"][0]["reason"]
    assert reason["coding"][0]["code"] == "CYCLES"
    assert "Cycle within the covered number and period: not met" == reason["text"]
    assert "Cycle 5 of 4." in json.dumps(current["processNote"])


def test_a_denial_without_a_reason_is_refused(client: TestClient) -> None:
    _, case_id = _submit(client)
    _sign_in(client)
    refused = _decide(client, case_id, action="deny", reason="")
    assert refused.status_code == 422
    assert "needs a reason" in refused.text


def test_more_information_keeps_it_pended_and_says_what_is_needed(client: TestClient) -> None:
    bundle, case_id = _submit(client)
    _sign_in(client)
    assert (
        _decide(client, case_id, action="more-info", note="Send the latest MRD result.").status_code
        == 303
    )
    current = client.post(INQUIRE, json=inquiry_bundle(bundle)).json()["entry"][0]["resource"]
    assert (current["outcome"], _action(current)) == ("queued", "A4")
    assert "Send the latest MRD result." in json.dumps(current["processNote"])
    # PAS 2.0.1 (additional information): a CommunicationRequest saying what is needed.
    (asked,) = current["contained"]
    assert current["communicationRequest"] == [{"reference": f"#{asked['id']}"}]
    assert asked["payload"][0]["contentString"] == "Send the latest MRD result."
    assert asked["recipient"] == [bundle["entry"][0]["resource"]["provider"]]
    assert profile_issues(
        [
            (current, f"{PAS_PROFILES}profile-claimresponse"),
            (asked, f"{PAS_PROFILES}profile-communicationrequest"),
        ]
    ) == [[], []]
    assert f'data-case="{case_id}"' in client.get("/review").text  # still waiting
    # DTR relaunched with the PAS request as its context: the form again, pre-filled.
    package = client.post(
        "/fhir/Questionnaire/$questionnaire-package",
        json={
            "resourceType": "Parameters",
            "parameter": [{"name": "context", "valueString": case_id}],
        },
    )
    assert package.status_code == 200, package.text
    resources = [e["resource"] for e in package.json()["parameter"][0]["resource"]["entry"]]
    (response,) = [r for r in resources if r["resourceType"] == "QuestionnaireResponse"]
    assert response["subject"] == {"reference": "Patient/pat"}
    assert response["item"]  # what the record answered is there again


def test_a_post_without_the_form_token_is_refused(client: TestClient) -> None:
    _, case_id = _submit(client)
    _sign_in(client)
    forged = client.post(
        f"/review/cases/{case_id}",
        content="action=approve&csrf=forged",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert forged.status_code == 400


def test_the_default_period_is_the_policys_coverage_period_inclusive(client: TestClient) -> None:
    """Scenario 01 completed: consolidation from a first cycle on 2026-11-01, covered for a year
    (the CQL: before 2027-11-01), so the FHIR Period, whose end is inclusive, ends 2027-10-31."""
    bundle, case_id = _submit(client)
    _sign_in(client)
    assert _decide(client, case_id, action="approve").status_code == 303
    current = client.post(INQUIRE, json=inquiry_bundle(bundle)).json()["entry"][0]["resource"]
    assert current["preAuthPeriod"] == {"start": "2026-11-01", "end": "2027-10-31"}


def test_a_reviewer_session_ends_after_its_lifetime(client: TestClient, clock: ManualClock) -> None:
    _sign_in(client)
    assert client.get("/review", follow_redirects=False).status_code == 200
    clock.advance(seconds=SESSION_LIFETIME.total_seconds() - 1)
    assert client.get("/review", follow_redirects=False).status_code == 200
    clock.advance(seconds=1)
    answer = client.get("/review", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/review/login"


@pytest.mark.parametrize(
    "form_token",
    [
        pytest.param(None, id="no-form-token"),
        pytest.param("guessed", id="wrong-form-token"),
    ],
)
def test_a_cross_site_sign_in_is_refused(client: TestClient, form_token: str | None) -> None:
    """Login CSRF: another site's page posting its own credentials would sign the reviewer in
    as the attacker, whose queue then receives what the reviewer types."""
    client.cookies.clear()
    field = "" if form_token is None else f"csrf={form_token}&"
    answer = client.post(
        "/review/login",
        content=f"{field}username=rn.lee&password={PASSWORD.replace(' ', '+')}",
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "origin": "https://attacker.example.net",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert COOKIE not in answer.headers.get("set-cookie", "")
    assert client.get("/review", follow_redirects=False).status_code == 303


def test_the_case_page_reads_in_the_policys_words(client: TestClient) -> None:
    """A yes/no criterion says its answer, codes read as the policy's terminology names them, a
    status is never "shown", and no Python value or answer code reaches the reviewer."""
    _, case_id = _submit(client)
    _sign_in(client)
    page = client.get(f"/review/cases/{case_id}").text
    shown = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))
    assert "Infant ALL (under 1 year at diagnosis) : No" in shown
    assert "B-cell precursor lineage : met (B-cell precursor (CD19-positive))" in shown
    assert "Philadelphia chromosome status : met (Philadelphia chromosome negative (Ph-))" in shown
    assert "a. Consolidation: met" in shown  # the path in the policy's words
    assert "Is the leukemia B-cell precursor (CD19-positive) ALL?: Yes" in shown  # an answer
    # The order's own dosage text is the EHR's words and stays as written.
    assert leaks([shown.replace("28 ug/d continuous IV infusion", "")]) == []
