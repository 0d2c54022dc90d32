"""The prescriber's prior-authorization form, end to end in Chromium: the sandbox EHR signs the
order (CDS Hooks order-sign to the payer), launches the SMART app with the coverage-assertion-id,
the app renders the pre-filled questionnaire with LHC-Forms, shows the criteria live, saves and
resumes a draft, and submits to the EHR and to the payer. Each step leaves a screenshot in
test-artifacts/browser/."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from playwright.sync_api import Page, Request, Route, expect

from tests.browser.conftest import ARTIFACTS, Stack
from tests.policy.test_display_words import leaks
from tests.support.dtr_profiles import response_problems

INFORMATION_ORIGIN = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/information-origin"
COVERAGE_INFORMATION = (
    "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"
)


class Form:
    """The app as a prescriber sees it, one scenario at a time."""

    def __init__(self, page: Page, stack: Stack, scenario: str) -> None:
        self.page, self.stack, self.scenario = page, stack, scenario
        self.step = 0

    def launch(self, resume: str | None = None) -> None:
        # Each test starts from the order without a request (relaunching a submitted order opens
        # on its request: tests/browser/test_prescriber_next_steps.py).
        self.stack.forget_requests(f"{self.scenario[:2]}-pat")
        query = f"?resume={resume}" if resume else ""
        self.page.goto(f"{self.stack.ehr}/launch/{self.scenario[:2]}{query}")
        expect(self.page.locator("body")).to_have_attribute("data-state", "ready", timeout=30000)
        self.settled()

    def shot(self, name: str) -> None:
        self.step += 1
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.scenario}-{self.step}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)

    def row(self, link_id: str) -> Any:
        return self.page.locator(f'#form .lhc-de:has(label[for="{link_id}/1/1"])')

    def field(self, link_id: str) -> Any:
        return self.page.locator(f'[id="{link_id}/1/1"]')

    def choose(self, link_id: str, typed: str) -> None:
        """An answer list: type the start of the answer, take the first match."""
        field = self.field(link_id)
        field.click()
        field.fill(typed)
        self.page.wait_for_timeout(150)
        self.page.keyboard.press("ArrowDown")
        self.page.keyboard.press("Enter")

    def pick(self, link_id: str, option: str) -> None:
        """An answer list: open it and click the option shown with these words."""
        self.field(link_id).click()
        self.page.locator("#lhc-tools-searchResults li", has_text=option).first.click()

    def type_in(self, link_id: str, value: str) -> None:
        field = self.field(link_id)
        field.fill(value)
        field.press("Tab")

    def date(self, link_id: str, month_day_year: str) -> None:
        field = self.page.locator(f'[id="{link_id}/1/1"] input')
        field.click()
        field.fill(month_day_year)
        field.press("Enter")

    def settled(self) -> None:
        """Wait until the criteria shown are those of the answers on screen (the results region
        says so in data-evaluated)."""
        expect(self.page.locator("#results")).to_have_attribute(
            "data-evaluated", "true", timeout=15000
        )

    def outcome(self) -> str | None:
        self.settled()
        value: str | None = self.page.locator("#outcome").get_attribute("data-outcome")
        return value

    def criterion(self, criterion_id: str) -> str | None:
        """The status shown for a policy criterion (ids as in SPEC: DX, PHASE, ...)."""
        value: str | None = self.page.locator(
            f'#criteria li[data-criterion="{criterion_id}"]'
        ).get_attribute("data-status")
        return value

    def missing(self) -> int:
        self.settled()
        count = int(self.page.locator("#todo").get_attribute("data-missing") or "-1")
        if count > 0:  # the heading says it in words, singular or plural
            words = "1 question needs" if count == 1 else f"{count} questions need"
            expect(self.page.locator("#todo h2")).to_have_text(f"{words} your answer")
        return count

    def submit(self, not_met: bool = False) -> tuple[str, str]:
        """`not_met`: the form shows a criterion not met, so Submit asks first; confirmed."""
        self.page.locator("#submit").click()
        if not_met:
            expect(self.page.locator("dialog#confirm-submit")).to_be_visible()
            self.page.locator("#confirm-send").click()
        expect(self.page.locator("body")).to_have_attribute(
            "data-state", "submitted", timeout=20000
        )
        references = self.page.locator("#references")
        ehr = references.get_attribute("data-ehr") or ""
        payer = references.get_attribute("data-payer") or ""
        return ehr, payer


def _answers(response: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            for answer in item.get("answer", []):
                found[item["linkId"]] = answer
            walk(item.get("item", []))

    walk(response.get("item", []))
    return found


def _origin_parts(answer: dict[str, Any]) -> dict[str, Any]:
    for extension in answer.get("extension", []):
        if extension["url"] == INFORMATION_ORIGIN:
            return {p["url"]: p for p in extension["extension"]}
    return {}


def _origin(answer: dict[str, Any]) -> str | None:
    source: str | None = _origin_parts(answer).get("source", {}).get("valueCode")
    return source


def _author(answer: dict[str, Any]) -> str | None:
    """The practitioner information-origin names as the author (DTR 2.0.1: author.practitioner)."""
    for part in _origin_parts(answer).get("author", {}).get("extension", []):
        if part["url"] == "practitioner":
            reference: str = part["valueReference"]["reference"]
            return reference
    return None


def _on_both_sides(stack: Stack, ehr_id: str, payer_id: str) -> dict[str, Any]:
    """The completed response is in the EHR (saved with the SMART token) and at the payer."""
    in_ehr = stack.ehr_read(f"QuestionnaireResponse/{ehr_id}")
    assert in_ehr.status_code == 200, in_ehr.text
    url = f"{stack.payer}/fhir/QuestionnaireResponse/{payer_id}"
    assert httpx.get(url, timeout=10).status_code == 401, "the payer's copy needs a token"
    ehr_copy = in_ehr.json()
    # Read as the EHR's launch would: the payer token bound to that EHR's patient.
    patient = ehr_copy["subject"]["reference"].split("/")[-1]
    at_payer = httpx.get(url, headers=stack.payer_headers(patient), timeout=10)
    assert at_payer.status_code == 200, at_payer.text
    payer_copy = at_payer.json()
    assert ehr_copy["status"] == payer_copy["status"] == "completed"
    assert _answers(ehr_copy).keys() == _answers(payer_copy).keys()
    assert ehr_copy["identifier"] == payer_copy["identifier"]
    # What the app wrote meets DTR 2.0.1's QuestionnaireResponse profile, in both copies.
    assert response_problems(ehr_copy) == [] and response_problems(payer_copy) == []
    response: dict[str, Any] = ehr_copy
    return response


def test_complete_from_the_record(page: Page, stack: Stack) -> None:
    """Scenario 32: the record answers every question; the prescriber checks and submits."""
    form = Form(page, stack, "32-relapsed-complete-from-record")
    form.launch()
    form.shot("prefilled")
    assert form.missing() == 0
    picked = ("diagnosis-code", "phase", "regimen", "weight-kg", "first-cycle-date")
    for link_id in (*picked, "administration-setting"):
        expect(form.row(link_id)).to_have_attribute("data-origin", "auto")
    expect(form.field("phase")).to_have_value("Relapsed or refractory disease")
    # The infusion the order is based on is coded for an outpatient facility (SITE).
    expect(form.field("administration-setting")).to_have_value("Outpatient facility")
    assert form.outcome() == "criteria-met"
    expect(page.locator("#dose .limit")).to_be_visible()
    # What the prescriber reads is the payer's words: no Python value, no answer code, no UCUM.
    infant = page.locator('#criteria li[data-criterion="INFANT"]')
    expect(infant.locator(".state")).to_have_text("No")
    lineage = page.locator('#criteria li[data-criterion="LINEAGE"]')
    expect(lineage).to_contain_text("B-cell precursor (CD19-positive)")
    expect(lineage.locator(".state")).to_have_text("met")
    read = page.locator("#criteria").inner_text() + page.locator("#dose").inner_text()
    assert leaks([read]) == []
    form.shot("live-status")

    ehr_id, payer_id = form.submit()
    expect(page.locator("#done")).to_have_attribute("data-outcome", "criteria-met")
    form.shot("submitted")
    saved = _on_both_sides(stack, ehr_id, payer_id)
    assert {_origin(a) for a in _answers(saved).values()} == {"auto"}
    assert {_author(a) for a in _answers(saved).values()} == {None}


def test_answers_needed_with_a_draft_resumed(page: Page, stack: Stack) -> None:
    """Scenario 01: the record gives the diagnosis, Ph status and weight; the prescriber answers
    the phase, regimen, cycle and first-cycle date, saves a draft midway and resumes it."""
    form = Form(page, stack, "01-consolidation-adult-record")
    form.launch()
    form.shot("prefilled")
    expect(form.row("weight-kg")).to_have_attribute("data-origin", "auto")
    expect(form.row("phase")).not_to_have_attribute("data-origin", "auto")
    assert form.missing() >= 3
    expect(page.locator('#todo a[data-link-id="phase"]')).to_be_visible()
    assert form.outcome() == "incomplete"

    form.choose("phase", "Consol")
    form.choose("regimen", "Single")
    expect(form.field("regimen")).to_have_value("Single agent")
    form.settled()
    form.shot("first-answers")
    page.locator("#save").click()
    expect(page.locator("#save-status")).to_have_attribute(
        "data-saved", re.compile(r".+"), timeout=10000
    )
    draft_id = page.locator("#save-status").get_attribute("data-saved") or ""
    draft = stack.ehr_read(f"QuestionnaireResponse/{draft_id}").json()
    assert draft["status"] == "in-progress"
    assert _answers(draft)["phase"]["valueCoding"]["code"] == "consolidation"

    form.launch(resume=draft_id)
    expect(form.field("phase")).to_have_value("Consolidation")
    expect(page.locator("#save-status")).to_contain_text("Resumed the draft")
    form.shot("resumed")

    form.type_in("cycle-number", "2")
    form.date("first-cycle-date", "06/15/2026")
    form.pick("administration-setting", "Infusion center")
    weight = form.field("weight-kg").input_value()
    form.type_in("weight-kg", str(float(weight) + 1))
    expect(form.row("weight-kg")).to_have_attribute("data-origin", "override")
    assert form.missing() == 0
    assert form.outcome() == "criteria-met"
    assert form.criterion("PHASE") == "met"
    form.shot("answered")

    ehr_id, payer_id = form.submit()
    assert ehr_id == draft_id  # the draft became the completed response, not a second copy
    expect(page.locator("#done")).to_have_attribute("data-outcome", "criteria-met")
    form.shot("submitted")
    answers = _answers(_on_both_sides(stack, ehr_id, payer_id))
    assert _origin(answers["weight-kg"]) == "override"
    assert _origin(answers["phase"]) == "manual"
    assert _origin(answers["diagnosis-code"]) == "auto"
    # dtrx-1: what the prescriber gave or changed names them (the launch's fhirUser).
    assert (
        _author(answers["weight-kg"]) == _author(answers["phase"]) == "Practitioner/01-prescriber"
    )
    assert _author(answers["diagnosis-code"]) is None
    assert answers["first-cycle-date"]["valueDate"] == "2026-06-15"


def test_a_recorded_bsa_far_from_mosteller_is_flagged_on_the_form(page: Page, stack: Stack) -> None:
    """SPEC section 2: the flag the card shows is on the form too, next to the BSA criterion."""
    form = Form(page, stack, "16-recorded-bsa-far-from-computed")
    form.launch()
    form.settled()
    flagged = page.locator('#criteria li[data-criterion="BSA"] .flag')
    expect(flagged).to_contain_text("more than 10% away")
    expect(page.locator("#criteria li[data-flag]")).to_have_count(1)
    form.shot("bsa-flag")


def answer_the_aml_form(form: Form) -> None:
    """What scenario 03's record leaves open, answered (the record shows AML: DX is not met)."""
    form.row("b-precursor").get_by_text("No", exact=True).click()
    for link_id, typed in (("ph-status", "Ph status"), ("phase", "Consol"), ("regimen", "Single")):
        form.choose(link_id, typed)
    form.type_in("cycle-number", "1")
    form.date("first-cycle-date", "11/01/2026")
    form.pick("administration-setting", "Office")
    assert form.missing() == 0


def test_criteria_not_met(page: Page, stack: Stack) -> None:
    """Scenario 03: the record shows AML, not ALL; the form says so before and after submission."""
    form = Form(page, stack, "03-other-malignancy-aml")
    form.launch()
    form.shot("prefilled")
    expect(form.field("diagnosis-code")).to_have_value("C92.00")
    assert form.outcome() == "criteria-not-met"
    assert form.criterion("DX") == "not-met"
    expect(page.locator("#outcome")).to_contain_text("Does not meet")

    answer_the_aml_form(form)
    assert form.outcome() == "criteria-not-met"
    form.shot("answered")

    ehr_id, payer_id = form.submit(not_met=True)
    expect(page.locator("#done")).to_have_attribute("data-outcome", "criteria-not-met")
    expect(page.locator("#done")).to_contain_text("clinical review")
    form.shot("submitted")
    _on_both_sides(stack, ehr_id, payer_id)


def test_the_place_of_service_is_asked_with_its_help(page: Page, stack: Stack) -> None:
    """Scenario 48 (SPEC section 2, SITE): nothing in the record says where the drug is given, so
    the form asks, and its help names the policy's places of service; inpatient is not one of
    them (not met, for the reviewer to decide), an infusion center is."""
    form = Form(page, stack, "48-site-inpatient-answered-is-not-met")
    form.launch()
    expect(page.locator('#todo a[data-link-id="administration-setting"]')).to_be_visible()
    form.row("administration-setting").locator(".lhc-help-button").click()
    help_text = page.locator(".lhc-popover-help")
    expect(help_text).to_contain_text("office, outpatient facility and infusion center")
    expect(help_text).to_contain_text("Home or inpatient administration is not one of them")
    form.shot("place-of-service-help")
    page.mouse.click(1, 1)  # the popover closes on a click outside it
    expect(help_text).to_be_hidden()
    form.choose("phase", "Consol")
    form.choose("regimen", "Single")
    form.type_in("cycle-number", "1")
    form.date("first-cycle-date", "11/01/2026")
    form.pick("administration-setting", "Inpatient hospital")
    expect(form.field("administration-setting")).to_have_value("Inpatient hospital")
    assert form.missing() == 0
    assert form.outcome() == "criteria-not-met"
    assert form.criterion("SITE") == "not-met"
    form.shot("inpatient")
    form.pick("administration-setting", "Infusion center")
    expect(form.field("administration-setting")).to_have_value("Infusion center")
    # The form's model takes a changed answer a moment after its field shows it; until then the
    # criteria on screen are, rightly, those of the answers in the model.
    site = page.locator('#criteria li[data-criterion="SITE"]')
    expect(site).to_have_attribute("data-status", "met")
    assert form.outcome() == "criteria-met"
    form.shot("infusion-center")


def test_the_place_of_service_comes_from_the_infusion_order(page: Page, stack: Stack) -> None:
    """Scenario 47: the infusion the order is based on is coded for the patient's home; the form
    opens with it from the record, and says the criterion is not met."""
    form = Form(page, stack, "47-site-home-infusion-is-not-met")
    form.launch()
    expect(form.field("administration-setting")).to_have_value("Home")
    expect(form.row("administration-setting")).to_have_attribute("data-origin", "auto")
    assert form.criterion("SITE") == "not-met"
    assert form.outcome() == "criteria-not-met"
    form.shot("home-from-the-record")


def _without_app_context(page: Page, stack: Stack) -> None:
    """The sandbox EHR always sends our appContext and has no option to leave it out: its token
    response is rewritten, so the launch is as any EHR makes it (fhirContext only)."""

    def rewrite(route: Route) -> None:
        answer = route.fetch()
        body = answer.json()
        assert "appContext" in body, "the sandbox sent no appContext: this test proves nothing"
        del body["appContext"]
        route.fulfill(response=answer, body=json.dumps(body))

    page.route(f"{stack.ehr}/auth/token", rewrite)


def _without_coverage_information(page: Page, stack: Stack, order: str) -> None:
    """The order as an EHR that kept no CRD answer holds it: the payer has no assertion to
    pre-fill from, so only the order and the Coverage pre-fill the payer's response."""

    def rewrite(route: Route) -> None:
        answer = route.fetch()
        body = answer.json()
        body.pop("extension", None)
        route.fulfill(response=answer, body=json.dumps(body))

    page.route(f"{stack.ehr}/fhir/{order}", rewrite)


def _package_requests(page: Page) -> list[dict[str, Any]]:
    asked: list[dict[str, Any]] = []

    def keep(request: Request) -> None:
        if request.url.endswith("/Questionnaire/$questionnaire-package"):
            asked.append(json.loads(request.post_data or "{}"))

    page.on("request", keep)
    return asked


def test_ehr_launch_without_app_context(page: Page, stack: Stack) -> None:
    """A launch as any EHR makes it: fhirContext names the order and the Coverage, and there is no
    appContext. The form must find the coverage-assertion-id in the order's coverage-information
    extension (DTR "Retrieving launch context") and open pre-filled."""
    _without_app_context(page, stack)
    asked = _package_requests(page)
    form = Form(page, stack, "32-relapsed-complete-from-record")
    form.launch()
    form.shot("no-app-context")

    order = stack.ehr_read("MedicationRequest/32-blin").json()
    (information,) = [e for e in order["extension"] if e["url"] == COVERAGE_INFORMATION]
    parts = {p["url"]: p for p in information["extension"]}
    contexts = [
        p.get("valueString") for a in asked for p in a["parameter"] if p["name"] == "context"
    ]
    assert contexts == [parts["coverage-assertion-id"]["valueString"]]
    assert form.missing() == 0
    expect(form.row("weight-kg")).to_have_attribute("data-origin", "auto")
    assert form.outcome() == "criteria-met"


def test_bsa_computes_as_weight_and_height_are_typed(page: Page, stack: Stack) -> None:
    """The Questionnaire's calculatedExpression on bsa-m2 (Mosteller, from the %weight and %height
    variables) runs in the renderer: the BSA follows what the prescriber types."""
    form = Form(page, stack, "10-weight-44-9-kg-bsa-limit")
    form.launch()
    # Height first: it is asked only under 45 kg, so it hides while the weight is empty (and so
    # does the BSA, needed only under 45 kg or for infant dosing).
    for link_id in ("height-cm", "weight-kg"):
        form.field(link_id).fill("")
    expect(form.field("bsa-m2")).to_have_count(0)
    form.type_in("weight-kg", "30")
    expect(form.field("bsa-m2")).to_have_value("")
    form.type_in("height-cm", "130")
    # Full precision (SPEC section 3: a rounded value never decides): sqrt(130 * 30 / 3600).
    expect(form.field("bsa-m2")).to_have_value(re.compile(r"^1\.04083"))
    form.type_in("weight-kg", "44.9")
    form.type_in("height-cm", "150")
    expect(form.field("bsa-m2")).to_have_value(re.compile(r"^1\.36778"))  # sqrt(150 * 44.9 / 3600)
    form.shot("bsa-computed")
    form.settled()


# What the package's CQL answers from scenario 32's record that the order alone does not.
FROM_THE_RECORD = ("diagnosis-code", "b-precursor", "ph-status", "phase", "weight-kg")


def test_the_package_cql_prefills_what_the_payer_left_open(page: Page, stack: Stack) -> None:
    """DTR spec-59: with no CRD assertion the payer pre-fills from the order alone; the form runs
    the package's CQL in the browser (the official engine) over the record it reads from the EHR
    and answers the rest, marked as from the record. What the payer pre-filled stays."""
    _without_app_context(page, stack)
    _without_coverage_information(page, stack, "MedicationRequest/32-blin")
    asked = _package_requests(page)
    form = Form(page, stack, "32-relapsed-complete-from-record")
    form.launch()
    form.shot("cql-prefilled")
    assert [p["name"] for a in asked for p in a["parameter"] if p["name"] == "context"] == []
    notice = page.locator("#record-notice")
    filled = (notice.get_attribute("data-filled") or "").split()
    assert set(FROM_THE_RECORD) <= set(filled)
    assert "daily-dose-mcg" not in filled, "the payer pre-filled the dose from the order"
    for link_id in (*FROM_THE_RECORD, "daily-dose-mcg"):
        expect(form.row(link_id)).to_have_attribute("data-origin", "auto")
    expect(form.field("phase")).to_have_value("Relapsed or refractory disease")
    ehr_id, payer_id = _fill_the_rest_and_submit(form)
    answers = _answers(_on_both_sides(stack, ehr_id, payer_id))
    assert {_origin(answers[link_id]) for link_id in FROM_THE_RECORD} == {"auto"}


def _fill_the_rest_and_submit(form: Form) -> tuple[str, str]:
    for link_id in form.page.locator("#todo a[data-link-id]").evaluate_all(
        "links => links.map(a => a.dataset.linkId)"
    ):
        if link_id == "regimen":
            form.choose("regimen", "Single")
        elif link_id == "cycle-number":
            form.type_in("cycle-number", "1")
        elif link_id == "first-cycle-date":
            form.date("first-cycle-date", "11/01/2026")
        elif link_id == "administration-setting":
            form.pick("administration-setting", "Infusion center")
    assert form.missing() == 0
    return form.submit()


def test_a_refused_record_search_leaves_the_questions_open(page: Page, stack: Stack) -> None:
    """The EHR refuses the Observation search: nothing is pre-filled from a partial record, the
    form says so quietly and stays usable."""
    _without_app_context(page, stack)
    _without_coverage_information(page, stack, "MedicationRequest/32-blin")

    def refuse(route: Route) -> None:
        outcome = {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "forbidden", "diagnostics": "not allowed"}],
        }
        route.fulfill(status=403, content_type="application/fhir+json", body=json.dumps(outcome))

    form = Form(page, stack, "32-relapsed-complete-from-record")
    page.route(re.compile(re.escape(f"{stack.ehr}/fhir/Observation") + r"\?.*"), refuse)
    form.launch()
    form.shot("record-refused")
    expect(page.locator("#record-notice")).to_have_attribute("data-failed", "true")
    expect(page.locator("#record-notice")).to_contain_text("could not be searched")
    expect(page.locator("#problem")).to_be_hidden()
    expect(form.row("diagnosis-code")).not_to_have_attribute("data-origin", "auto")
    expect(form.row("daily-dose-mcg")).to_have_attribute("data-origin", "auto")
    assert form.missing() > 0


def _with_unknown_assertion(page: Page, stack: Stack, order: str) -> None:
    """The order carries a coverage-assertion-id the payer does not know (older than its
    retention, or handed out by another payer deployment)."""

    def rewrite(route: Route) -> None:
        answer = route.fetch()
        body = answer.json()
        for extension in body.get("extension", []):
            for part in extension.get("extension", []):
                if part["url"] == "coverage-assertion-id":
                    part["valueString"] = "not-known-to-this-payer"
        route.fulfill(response=answer, body=json.dumps(body))

    page.route(f"{stack.ehr}/fhir/{order}", rewrite)


def test_an_assertion_the_payer_does_not_know_never_blocks_submit(page: Page, stack: Stack) -> None:
    """The form opens pre-filled from the order and the record, and the completed form is
    accepted: it no longer names the assertion the payer could not find."""
    _without_app_context(page, stack)
    _with_unknown_assertion(page, stack, "MedicationRequest/32-blin")
    form = Form(page, stack, "32-relapsed-complete-from-record")
    form.launch()
    form.shot("unknown-assertion")
    expect(page.locator("#save-status")).to_contain_text("was not found")
    ehr_id, payer_id = _fill_the_rest_and_submit(form)
    saved = _on_both_sides(stack, ehr_id, payer_id)
    assert "tag" not in saved.get("meta", {})
    expect(page.locator("#problem")).to_be_hidden()


def test_a_refused_submission_says_what_to_do_next(page: Page, stack: Stack) -> None:
    """The payer cannot take the form right now: the alert region says so in words, with the
    next step, and the form stays open with its answers."""
    form = Form(page, stack, "32-relapsed-complete-from-record")

    def busy(route: Route) -> None:
        if route.request.method != "POST":
            route.fallback()
            return
        outcome = {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "transient", "diagnostics": "storage busy"}],
        }
        route.fulfill(status=503, content_type="application/fhir+json", body=json.dumps(outcome))

    page.route(f"{stack.payer}/fhir/QuestionnaireResponse", busy)
    form.launch()
    assert form.missing() == 0
    page.locator("#submit").click()
    alert = page.locator("#problem")
    expect(alert).to_be_visible()
    expect(alert).to_have_attribute("role", "alert")
    expect(alert).to_contain_text("storage busy")
    expect(alert).to_contain_text("press Submit to payer again")
    form.shot("submission-refused")
    expect(page.locator("#workspace")).to_be_visible()
    expect(page.locator("#submit")).to_be_enabled()


def test_a_payer_that_does_not_answer_is_said_in_words(page: Page, stack: Stack) -> None:
    """The payer stops answering while the prescriber works: the alert region says so with the
    next step, the answers stay, the criteria are marked out of date, and nothing is left
    unhandled in the page (the page fixture fails on any uncaught error). When the payer answers
    again, the next change brings the criteria back and the alert goes."""
    form = Form(page, stack, "01-consolidation-adult-record")
    form.launch()
    evaluations: list[str] = []
    page.on(
        "request",
        lambda request: evaluations.append(request.url) if "$evaluate" in request.url else None,
    )
    evaluate = f"{stack.payer}/fhir/QuestionnaireResponse/$evaluate"
    page.route(evaluate, lambda route: route.abort("connectionrefused"))
    form.choose("phase", "Consol")
    alert = page.locator("#problem")
    expect(alert).to_be_visible()
    expect(alert).to_have_attribute("role", "alert")
    expect(alert).to_contain_text("The payer did not answer")
    expect(alert).to_contain_text("Your answers are kept")
    expect(page.locator("#results")).to_have_attribute("data-evaluated", "false")
    expect(form.field("phase")).to_have_value("Consolidation")
    form.shot("payer-not-answering")
    tried = len(evaluations)
    assert tried >= 1
    # Nothing changes, so nothing is asked again: no timer runs behind the prescriber's back.
    page.wait_for_timeout(2500)
    assert len(evaluations) == tried

    page.unroute(evaluate)
    form.choose("regimen", "Single")
    form.settled()
    expect(alert).to_be_hidden()
    assert form.criterion("PHASE") == "met"
