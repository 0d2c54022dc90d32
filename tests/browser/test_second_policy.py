"""The second policy (tests/policies/exemplumab, a TEST policy for a fictional drug) in Chromium,
with no code change: the payer loads it beside the first, the sandbox EHR holds its example
patients and signs a ServiceRequest, and the same SMART app opens its form pre-filled, shows its
criteria and its mg limit live, and submits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Stack, running_stack
from tests.browser.test_prescriber_form import Form
from tests.policies.test_exemplumab import FOLDER, both_policies


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("second-policy")
    policies = both_policies(work / "policies")
    with running_stack(
        work,
        payer_extra={"POLICY_DIR": str(policies)},
        ehr_extra={"EXAMPLES_DIR": str(FOLDER / "examples")},
    ) as started:
        yield started


def test_the_second_policys_form_opens_prefilled_and_decides_live(page: Page, stack: Stack) -> None:
    form = Form(page, stack, "02-dose-above-10-mg-per-kg")
    form.launch()
    form.shot("opened")
    expect(page.locator("#title")).to_have_text(
        "Exemplumab prior authorization (TEST policy, fictional drug)"
    )
    expect(page.locator("#order")).to_have_text("Exemplumab infusion: 800 mg")
    assert form.field("weight-kg").input_value() == "70"
    assert form.field("dose-mg").input_value() == "800"
    assert form.outcome() == "criteria-not-met"
    assert form.criterion("DOSE") == "not-met"
    assert form.criterion("NEUTROPHILS") == "met"
    lead = page.locator("#dose .limit")
    expect(lead).to_have_text("Infusion dose: up to 700 mg.")
    expect(lead).to_have_attribute("data-limit", "700")

    form.type_in("dose-mg", "700")
    assert form.outcome() == "criteria-met"
    assert form.criterion("DOSE") == "met"
    form.shot("dose-corrected")

    form.type_in("weight-kg", "50")
    assert form.outcome() == "criteria-not-met"
    expect(page.locator("#dose .limit")).to_have_text("Infusion dose: up to 500 mg.")
    form.type_in("weight-kg", "70")
    assert form.outcome() == "criteria-met"

    ehr_copy, payer_copy = form.submit()
    form.shot("submitted")
    assert ehr_copy and payer_copy
    expect(page.locator("#done")).to_contain_text(
        "Covered infusion dose for this patient: up to 700 mg."
    )
    saved = stack.ehr_read(f"QuestionnaireResponse/{ehr_copy}").json()
    assert saved["questionnaire"].startswith(f"{stack.payer}/fhir/Questionnaire/exemplumab-pa")
    contexts = {
        e["valueReference"]["reference"] for e in saved["extension"] if "valueReference" in e
    }
    assert any(r.startswith("ServiceRequest/") for r in contexts)
