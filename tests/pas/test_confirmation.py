"""A final decision is confirmed first (service/pas/confirmation.py): the case's form answers
with a page restating the decision, what it covers and what falls short of the order; only the
confirmation records it, conditionally, so a case decided meanwhile is refused in words. A
denial offers the criteria the evaluation found not met first, the first of them chosen, and
offers the met ones only apart. Reviewer actions are audited in `reviewer_action`."""

from __future__ import annotations

import re
import time

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from tests.pas.test_case_queue import submit_child
from tests.pas.test_submit import _action
from tests.pas.test_workbench import _propose, _sign_in, confirm

FLAT = re.compile(r"\s+")


def _current(client: TestClient, case_id: str) -> str:
    answer = client.get(f"/fhir/ClaimResponse/{case_id}")
    assert answer.status_code == 200, answer.text
    return _action(answer.json())


def test_an_approval_below_the_ordered_dose_is_restated_before_it_is_recorded(
    client: TestClient,
) -> None:
    case_id = submit_child(client, "confirm-1")
    _sign_in(client)
    proposed = _propose(client, case_id, action="approve", note="Covered at her BSA.")
    assert proposed.status_code == 200, proposed.text
    page = FLAT.sub(" ", proposed.text)
    assert (
        '<h1 id="headline">Approve blinatumomab 0.035 MG Injection up to 15.6 mcg/day for '
        "Alex Example</h1>" in page
    )
    assert "Daily dose: covered 15.6 mcg/day; ordered 28 mcg/day: 12.4 mcg/day less" in page
    assert "Authorized from 2026-11-01 to 2027-10-31" in page
    assert "Words for the prescriber: Covered at her BSA." in page
    assert "The evaluation found not met: Ordered dose within the covered dose (mcg/day)" in page
    assert _current(client, case_id) == "A4"  # nothing recorded yet
    confirmed = confirm(client, proposed.text)
    assert (confirmed.status_code, confirmed.headers["location"]) == (
        303,
        f"/review/cases/{case_id}",
    )
    claim_response = client.get(f"/fhir/ClaimResponse/{case_id}").json()
    assert _action(claim_response) == "A1"
    assert claim_response["preAuthPeriod"] == {"start": "2026-11-01", "end": "2027-10-31"}


def test_a_denial_is_restated_with_its_reason(client: TestClient) -> None:
    case_id = submit_child(client, "confirm-2")
    _sign_in(client)
    proposed = _propose(client, case_id, action="deny", reason="DOSE", note="Above her BSA limit.")
    page = FLAT.sub(" ", proposed.text)
    assert (
        '<h1 id="headline">Deny blinatumomab 0.035 MG Injection, ordered 28 mcg/day, for '
        "Alex Example</h1>" in page
    )
    assert "Reason: Ordered dose within the covered dose (mcg/day): not met" in page
    assert 'id="confirm-decision">Confirm the denial</button>' in page
    assert confirm(client, proposed.text).status_code == 303
    assert _current(client, case_id) == "A3"


def test_the_deny_reasons_put_the_failed_criterion_first_and_choose_it(
    client: TestClient,
) -> None:
    case_id = submit_child(client, "reasons")
    _sign_in(client)
    page = FLAT.sub(" ", client.get(f"/review/cases/{case_id}").text)
    select = page[page.index('<select name="reason"') : page.index("</select>")]
    groups = re.findall(r'<optgroup label="([^"]+)">(.*?)</optgroup>', select)
    headings = [heading for heading, _ in groups]
    assert headings[0] == "Not met in the evaluation"
    assert headings[-1].startswith("Found met by the evaluation")
    first = dict(groups)["Not met in the evaluation"]
    assert re.findall(r'value="([^"]+)"', first) == ["DOSE"]
    words = "Ordered dose within the covered dose (mcg/day): not met"
    assert f'<option value="DOSE" selected>{words}</option>' in first
    met = dict(groups)[headings[-1]]
    assert 'value="DX"' in met and "not met" not in met  # a met criterion never reads "not met"
    assert select.count(" selected") == 1


def test_a_decision_confirmed_after_another_was_recorded_is_refused_in_words(
    client: TestClient,
) -> None:
    case_id = submit_child(client, "late")
    _sign_in(client)
    approval = _propose(client, case_id, action="approve")  # one tab: the approval to confirm
    denial = _propose(client, case_id, action="deny", reason="DOSE")  # another: the denial
    assert confirm(client, denial.text).status_code == 303
    refused = confirm(client, approval.text)
    assert refused.status_code == 409
    assert "already denied by rn.lee" in refused.text and "was not recorded" in refused.text
    assert 'role="alert"' in refused.text
    assert _current(client, case_id) == "A3"
    again = _propose(client, case_id, action="approve")  # the case page of before, posted again
    assert again.status_code == 409 and "already denied by rn.lee" in again.text
    assert 'id="confirm-decision"' not in again.text


def test_only_a_final_decision_is_confirmed(client: TestClient) -> None:
    case_id = submit_child(client, "more")
    _sign_in(client)
    page = client.get(f"/review/cases/{case_id}").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    answer = client.post(
        f"/review/cases/{case_id}/confirm",
        content=f"csrf={csrf.group(1)}&action=more-info&note=MRD",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 422 and "only an approval or a denial" in answer.text
    assert _current(client, case_id) == "A4"


def test_reviewer_actions_are_audited_in_their_own_table(
    client: TestClient, database_url: str
) -> None:
    case_id = submit_child(client, "audited")
    _sign_in(client)
    assert confirm(client, _propose(client, case_id, action="approve").text).status_code == 303
    engine = create_engine(database_url)
    rows: list[tuple[str, str, str, bool]] = []
    for _ in range(100):  # the case opened is written by the audit writer, within moments
        with engine.connect() as connection:
            rows = [
                (r.reviewer, r.action, r.case_id, r.patient_hash not in (None, "pat"))
                for r in connection.execute(text("select * from reviewer_action order by id"))
            ]
            reviewers_in_dtr = connection.execute(
                text("select count(*) from dtr_access where client_id like 'reviewer:%'")
            ).scalar()
        if ("rn.lee", "review-case", case_id, True) in rows:
            break
        time.sleep(0.05)
    engine.dispose()
    assert ("rn.lee", "review-case", case_id, True) in rows
    assert ("rn.lee", "review-approve", case_id, True) in rows
    assert reviewers_in_dtr == 0
