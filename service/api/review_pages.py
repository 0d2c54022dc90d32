"""What every page of the clinical reviewers' workbench (`/review`) shares: its templates
(Jinja2, autoescaped, no script), its headers (not cached, not framed), its words for states and
actions, the form it posts, and who is signed in."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi.concurrency import run_in_threadpool
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from service.auth.reviewers import COOKIE, SignedIn, find_session
from service.errors import BadRequest
from service.runtime import Runtime
from service.settings import PROJECT_ROOT

PAGES = PROJECT_ROOT / "service" / "web" / "review"
_TEMPLATES = Environment(
    loader=FileSystemLoader(PAGES), autoescape=select_autoescape(["html"]), auto_reload=False
)
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
WORDS = {
    "outcome_words": {
        "criteria-met": "meets the criteria",
        "criteria-not-met": "does not meet the criteria",
        "incomplete": "incomplete",
    },
    "state_words": {
        "pended": "pended for review",
        "more-info": "waiting for more information",
        "approved": "approved",
        "denied": "denied",
        "cancelled": "cancelled",
    },
    "action_words": {
        "pend": "pended",
        "approve": "approved",
        "deny": "denied",
        "more-info": "asked for more information",
        "cancel": "cancelled by the submitter",
        "update": "updated by the submitter",
        "replace": "replaced by the submitter",
    },
}


def page(name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    html = _TEMPLATES.get_template(name).render(**WORDS, **values)
    return HTMLResponse(html, status_code, headers=HEADERS)


async def posted_form(request: Request) -> dict[str, str]:
    try:
        pairs = parse_qsl(
            (await request.body()).decode(), keep_blank_values=True, strict_parsing=False
        )
    except UnicodeDecodeError:
        raise BadRequest("the form is not UTF-8") from None
    return dict(pairs)


async def signed_in(request: Request, runtime: Runtime) -> SignedIn | None:
    token = request.cookies.get(COOKIE)

    def look() -> SignedIn | None:
        with runtime.sessions() as session:
            return find_session(session, token, runtime.clock.now())

    return await run_in_threadpool(look) if token else None


def to_sign_in() -> Response:
    return RedirectResponse("/review/login", status_code=303, headers=HEADERS)


def secure(runtime: Runtime) -> bool:
    """The session cookies are Secure where the service is served over https."""
    return runtime.settings.base_url.startswith("https://")
