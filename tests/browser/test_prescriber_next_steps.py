"""The prescriber's form as a busy oncologist needs it: a relaunched order that was submitted
opens on its request (no fresh form, no second request); an over-limit dose says by how much and
what to change, and Submit asks first; typed text picks from a choice list; the header gives the
patient's age on the evaluation date; axe-core finds no critical or serious violation on the
form or the result page. Everything is read from the page (the DOM), as a person sees it."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.axe import serious_violations
from tests.browser.conftest import Stack


def _launch(page: Page, stack: Stack, nn: str, state: str = "ready") -> None:
    page.goto(f"{stack.ehr}/launch/{nn}")
    expect(page.locator("body")).to_have_attribute("data-state", state, timeout=30000)
    if state == "ready":
        expect(page.locator("#outcome")).to_have_attribute(
            "data-outcome", "criteria-met", timeout=15000
        )


def _field(page: Page, link_id: str) -> Any:
    return page.locator(f'[id="{link_id}/1/1"]')


def _no_serious(page: Page) -> None:
    found = serious_violations(page)
    assert found == [], found


def test_a_submitted_order_opens_on_its_request(page: Page, stack: Stack) -> None:
    stack.forget_requests("32-pat")
    _launch(page, stack, "32")
    _no_serious(page)  # the form complete from the record
    page.locator("#submit").click()
    expect(page.locator("#pa")).to_have_attribute("data-status", "pended", timeout=20000)
    expect(page.locator("#pa")).to_contain_text("The decision is due by")
    _no_serious(page)  # the result page
    assert len(stack.ehr_requests("32-pat")) == 1

    _launch(page, stack, "32", state="request")
    expect(page.locator("#done h2")).to_have_text(
        "This order already has a prior-authorization request"
    )
    expect(page.locator("#pa")).to_have_attribute("data-status", "pended")
    expect(page.locator("#pa")).to_contain_text("The decision is due by")
    expect(page.locator("#next-steps")).to_contain_text("does not send a second one")
    expect(page.locator("#workspace")).to_be_hidden()
    assert len(stack.ehr_requests("32-pat")) == 1


def test_an_over_limit_dose_says_by_how_much_and_submit_asks_first(
    page: Page, stack: Stack
) -> None:
    """Scenario 36: a 30 kg, 1.041 m2 child with 28 mcg/day ordered; in consolidation the policy
    covers 15 mcg/m2/day, 15.6 mcg/day."""
    stack.forget_requests("36-pat")
    page.goto(f"{stack.ehr}/launch/36")
    expect(page.locator("body")).to_have_attribute("data-state", "ready", timeout=30000)
    expect(page.locator("#patient")).to_contain_text("years)")
    _field(page, "phase").click()
    page.locator("#lhc-tools-searchResults li", has_text="Consolidation").first.click()
    over = page.locator("#dose-advice .over")
    expect(over).to_have_text(
        "Ordered 28 mcg/day; the policy covers up to 15.6 mcg/day for this patient:"
        " 12.4 mcg/day over.",
        timeout=15000,
    )
    expect(page.locator("#dose-advice .change")).to_contain_text("Change the dose in the order")
    expect(page.locator('#criteria li[data-criterion="DOSE"]')).to_have_attribute(
        "data-status", "not-met"
    )
    _no_serious(page)  # the form of an over-limit order (the advice, the criteria not met)

    page.locator("#submit").click()
    dialog = page.locator("dialog#confirm-submit")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("does not meet the policy")
    page.locator("#confirm-back").click()
    expect(dialog).to_have_count(0)
    expect(page.locator("body")).to_have_attribute("data-state", "ready")
    assert stack.ehr_requests("36-pat") == []  # nothing was sent


def test_typed_text_picks_from_a_choice_list(page: Page, stack: Stack) -> None:
    stack.forget_requests("01-pat")
    page.goto(f"{stack.ehr}/launch/01")
    expect(page.locator("body")).to_have_attribute("data-state", "ready", timeout=30000)
    field = _field(page, "ph-status")
    field.click()
    field.fill("neg")
    page.wait_for_timeout(200)
    page.keyboard.press("Enter")
    expect(field).to_have_value("Philadelphia chromosome negative (Ph-)")


def test_the_form_has_no_serious_accessibility_violation(page: Page, stack: Stack) -> None:
    stack.forget_requests("01-pat")
    page.goto(f"{stack.ehr}/launch/01")
    expect(page.locator("body")).to_have_attribute("data-state", "ready", timeout=30000)
    expect(page.locator("#outcome")).to_have_attribute("data-outcome", "incomplete", timeout=15000)
    _no_serious(page)
    # The to-do links show where the keyboard is.
    link = page.locator("#todo a").first
    link.focus()
    outline = link.evaluate("(a) => getComputedStyle(a).outlineStyle")
    assert outline not in ("none", ""), outline
