"""The whole chain in Chromium, as `make run` has it: the sandbox EHR signs the order (CRD), the
prescriber's form opens pre-filled (DTR) and is submitted; the EHR sends the PAS request
(Claim/$submit) and the app shows it pended; a clinical reviewer signs in to the workbench, sees
the case with its evidence and approves it; the payer notifies the EHR (Subscription, id-only),
the EHR asks Claim/$inquire, and the app shows the authorization number and period. A second case
is denied with a reason tied to the policy's criterion, and the reason reaches the app. Each
decision is confirmed on the page that restates it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from service.auth.reviewers import hash_password
from tests.browser.axe import serious_violations
from tests.browser.conftest import ARTIFACTS, Stack, running_stack
from tests.browser.test_prescriber_form import Form, answer_the_aml_form

REVIEWER, PASSWORD = "reviewer", "browser-test-reviewer-password"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("prior-authorization")
    reviewers = work / "reviewers.json"
    account = {
        "username": REVIEWER,
        "name": "Browser reviewer",
        "passwordHash": hash_password(PASSWORD),
    }
    reviewers.write_text(json.dumps({"reviewers": [account]}))
    with running_stack(work, payer_extra={"REVIEWERS_FILE": str(reviewers)}) as started:
        yield started


def _review(page: Page, stack: Stack) -> Page:
    """The reviewer's own tab, signed in to the payer's workbench."""
    review = page.context.new_page()
    review.goto(f"{stack.payer}/review")
    review.fill('input[name="username"]', REVIEWER)
    review.fill('input[name="password"]', PASSWORD)
    review.click('button[type="submit"]')
    expect(review.locator("h1")).to_contain_text("Waiting for a decision")
    return review


def _open_newest_case(review: Page, stack: Stack) -> None:
    """The queue is by due time; every request here is standard, so the newest is the last."""
    review.goto(f"{stack.payer}/review")
    newest = review.locator("table.queue tbody tr").last
    # Named by the EHR's order: the prescriber who signed it, then the clinic that asks.
    prescriber = "Dr. Jordan Rivera · Sandbox Oncology Clinic"
    expect(newest.locator(".prescriber")).to_have_text(prescriber)
    newest.locator("a").click()
    expect(review.locator("#state")).to_have_text("pended for review")


def _ehr_claim_response(stack: Stack, patient: str) -> dict[str, Any]:
    found = stack.ehr_read(f"ClaimResponse?patient=Patient/{patient}").json()
    responses = [e["resource"] for e in found.get("entry", [])]
    assert responses, "the EHR keeps no ClaimResponse"
    newest: dict[str, Any] = max(responses, key=lambda r: r["meta"]["lastUpdated"])
    return newest


def test_submit_review_approve_and_the_prescriber_sees_the_authorization(
    page: Page, stack: Stack
) -> None:
    form = Form(page, stack, "32-relapsed-complete-from-record")
    form.launch()
    form.submit()
    expect(page.locator("#pa")).to_have_attribute("data-status", "pended", timeout=20000)
    form.shot("pended")

    review = _review(page, stack)
    _open_newest_case(review, stack)
    expect(review.locator('[data-criterion="DX"]')).to_have_attribute("data-status", "met")
    # The place of service the form confirmed from the infusion order (SPEC section 2, SITE).
    expect(review.locator('[data-criterion="SITE"]')).to_have_attribute("data-status", "met")
    expect(review.locator(".evidence").first).to_be_visible()
    review.screenshot(path=str(ARTIFACTS / f"{form.scenario}-review-case.png"), full_page=True)
    review.locator("#approve button[type=submit]").click()
    expect(review.locator("#headline")).to_contain_text("Approve ")  # restated, to confirm
    review.locator("#confirm-decision").click()
    expect(review.locator("#state")).to_have_text("approved")
    reference = review.locator("#preauth-ref").inner_text()
    assert reference.startswith("PA")

    expect(page.locator("#pa")).to_have_attribute("data-status", "approved", timeout=30000)
    expect(page.locator("#pa-ref")).to_have_text(reference)
    form.shot("approved")
    kept = _ehr_claim_response(stack, "32-pat")  # what the EHR got back from $inquire
    assert kept["preAuthRef"] == reference
    assert kept["preAuthPeriod"]["start"] and kept["preAuthPeriod"]["end"]
    assert kept["outcome"] == "complete"


def test_a_denial_and_its_reason_reach_the_prescriber(page: Page, stack: Stack) -> None:
    form = Form(page, stack, "03-other-malignancy-aml")
    form.launch()
    answer_the_aml_form(form)
    form.submit(not_met=True)
    expect(page.locator("#pa")).to_have_attribute("data-status", "pended", timeout=20000)

    review = _review(page, stack)
    _open_newest_case(review, stack)
    expect(review.locator('[data-criterion="DX"]')).to_have_attribute("data-status", "not-met")
    review.select_option('#deny select[name="reason"]', "DX")
    review.fill("#deny textarea", "AML is outside the policy's indications.")
    review.locator("#deny button[type=submit]").click()
    expect(review.locator("#headline")).to_contain_text("Deny ")
    review.locator("#confirm-decision").click()
    expect(review.locator("#state")).to_have_text("denied")

    expect(page.locator("#pa")).to_have_attribute("data-status", "denied", timeout=30000)
    expect(page.locator("#pa-reason")).to_contain_text(
        "Diagnosis is acute lymphoblastic leukemia: not met"
    )
    expect(page.locator("#pa")).to_contain_text("AML is outside the policy's indications.")
    # What the prescriber can do now: whom to ask for reconsideration, and a corrected request.
    expect(page.locator("#pa")).to_contain_text("To ask for reconsideration:")
    expect(page.locator("#next-steps")).to_contain_text("Correct the request")
    violations = serious_violations(page)  # the result page after a denial
    assert violations == [], violations
    form.shot("denied")
    page.locator("#new-request").click()
    expect(page.locator("#workspace")).to_be_visible()
    expect(page.locator("body")).to_have_attribute("data-state", "ready")


def test_more_information_is_answered_as_an_update_of_the_same_request(
    page: Page, stack: Stack
) -> None:
    """PAS 2.0.1 "additional information": the reviewer asks for more; the prescriber's
    relaunched order opens on its request with the ask and a way to answer it, in the request's
    own form, which the EHR sends again as an update of that request (not a second request,
    which the payer would refuse while the first is open): one Claim in the EHR, the same case at
    the payer, pended again with the ask answered."""
    form = Form(page, stack, "32-relapsed-complete-from-record")
    form.launch()
    form.submit()
    expect(page.locator("#pa")).to_have_attribute("data-status", "pended", timeout=20000)

    review = _review(page, stack)
    _open_newest_case(review, stack)
    case_page = review.url
    review.fill("#more-info textarea", "The latest bone marrow MRD result, please.")
    review.locator("#more-info button[type=submit]").click()
    expect(page.locator("#pa")).to_have_attribute("data-status", "more-info", timeout=30000)
    expect(page.locator("#pa-asks")).to_contain_text("bone marrow MRD")

    page.goto(f"{stack.ehr}/launch/32")
    expect(page.locator("body")).to_have_attribute("data-state", "request", timeout=30000)
    expect(page.locator("#pa")).to_have_attribute("data-status", "more-info")
    expect(page.locator("#next-steps")).to_contain_text("as an update of this request")
    violations = serious_violations(page)  # the request page with the payer's ask
    assert violations == [], violations
    page.locator("#answer-more").click()
    expect(page.locator("body")).to_have_attribute("data-state", "ready", timeout=30000)
    page.locator("#submit").click()
    expect(page.locator("body")).to_have_attribute("data-state", "submitted", timeout=20000)
    expect(page.locator("#pa")).to_have_attribute("data-status", "pended", timeout=30000)

    assert len(stack.ehr_requests("32-pat")) == 1  # the same request, updated
    kept = _ehr_claim_response(stack, "32-pat")
    notes = " ".join(note["text"] for note in kept.get("processNote", []))
    assert "Updated by the submitter" in notes, notes
    assert not kept.get("communicationRequest"), "the ask is answered"
    review.goto(case_page)
    expect(review.locator("#state")).to_have_text("pended for review")
