"""`create_app(settings)`: wires the routers, middleware, error handlers and runtime objects."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from service.api.auth import router as auth_router
from service.api.cds_hooks import router as cds_hooks_router
from service.api.dtr_operations import router as operations_router
from service.api.fhir_content import router as dtr_router
from service.api.health import router as health_router
from service.api.pas import router as pas_router
from service.api.policy_documents import router as policy_documents_router
from service.api.questionnaire_package import router as package_router
from service.api.questionnaire_responses import router as response_router
from service.api.review_login import router as review_login_router
from service.api.subscriptions import router as subscriptions_router
from service.api.supported_payers import router as supported_payers_router
from service.api.workbench import router as workbench_router
from service.body_limit import BodyLimitMiddleware
from service.clock import SYSTEM_CLOCK, Clock
from service.draining import CloseWhileDraining, Drain
from service.errors import BadRequest, NotFound
from service.logs import configure_logging
from service.outcomes import install_exception_handlers
from service.request_ids import RequestIdMiddleware
from service.runtime import Runtime, build_runtime
from service.settings import Settings, get_settings
from service.storage.feedback import FeedbackItem, store_feedback

log = logging.getLogger(__name__)


def create_app(settings: Settings, clock: Clock = SYSTEM_CLOCK) -> FastAPI:
    """`clock`: the time every time-based behaviour reads (tests pin or move it)."""
    runtime = build_runtime(settings, clock)
    drain = Drain(settings.drain_seconds)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        _warn_about_unsafe_settings(settings)
        # Everything loaded so far (compiled policy, FHIR models, terminology) lives as long as the
        # process: out of the collector's sight, a full collection no longer walks it, which took
        # tens of milliseconds out of the requests it landed on.
        gc.collect()
        gc.freeze()
        drain.install()  # SIGTERM drains first (service/draining.py)
        runtime.dispatcher.start()
        yield
        drain.uninstall()
        await runtime.close()

    # The API description maps every route for whoever asks: served in development only.
    docs = settings.is_development
    app = FastAPI(
        title="Coverage requirements service",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.runtime = runtime
    app.state.drain = drain
    _add_middleware(app, settings, drain)
    install_exception_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    _mount_smart_app(app, settings)
    if settings.bench_mode:
        _add_bench_baseline(app)
    return app


# In this order: /fhir operations before the DTR content routes (whose /{type}/{id} would match
# them), supported payers before the /dtr mount.
ROUTERS = (
    health_router,
    cds_hooks_router,
    auth_router,
    policy_documents_router,
    response_router,
    package_router,
    pas_router,
    subscriptions_router,
    review_login_router,
    workbench_router,
    operations_router,
    dtr_router,
    supported_payers_router,
)


def _add_middleware(app: FastAPI, settings: Settings, drain: Drain) -> None:
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(CloseWhileDraining, drain=drain)
    if settings.cors_allowed_origins:
        # CDS Hooks "Cross-Origin Resource Sharing": browser-based clients call discovery and
        # the services; the same origins may call /fhir and /auth (a DTR app served elsewhere).
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allowed_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Accept"],
            max_age=600,
        )
    # Added last, so outermost: the id and the access line cover every answer, refusals included.
    app.add_middleware(RequestIdMiddleware)


def _add_bench_baseline(app: FastAPI) -> None:
    """The benchmark's floors. Framework floor (`/bench/noop`): the same app, middleware and
    payload, the body read and parsed as JSON as a hook call parses it, and an empty answer.
    Durable floor (`/bench/durable`): that, plus one row committed through the service's own
    writer before answering, as an order-sign keeps its answer before sending it; nothing an
    order-sign must do costs less."""

    @app.post("/bench/noop", include_in_schema=False)
    async def noop(request: Request) -> Response:
        _parsed(await request.body())
        return Response(b'{"cards":[]}', media_type="application/json")

    @app.post("/bench/durable", include_in_schema=False)
    async def durable(request: Request) -> Response:
        _parsed(await request.body())
        runtime: Runtime = request.app.state.runtime
        now = runtime.clock.now()
        item = FeedbackItem("bench", "accepted", now.isoformat(), {})
        await runtime.committer.commit(store_feedback("bench", [item], now))
        return Response(b'{"cards":[]}', media_type="application/json")


def _parsed(body: bytes) -> object:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("request body is not JSON") from None


def _mount_smart_app(app: FastAPI, settings: Settings) -> None:
    """The prescriber's DTR app, static files built by `make run` / `make test`."""
    if (settings.web_dir / "index.html").is_file():
        app.mount("/dtr", StaticFiles(directory=settings.web_dir, html=True), name="dtr")
        return

    @app.get("/dtr/{path:path}", include_in_schema=False)
    async def not_built(path: str) -> None:
        raise NotFound(
            f"the SMART app is not built ({settings.web_dir}): run `make run` or `make web`"
        )


def _warn_about_unsafe_settings(settings: Settings) -> None:
    if settings.bench_mode:
        log.warning("BENCH_MODE is on: POST /bench/noop answers anyone. Benchmarks only.")
    if settings.auth_mode == "off":
        log.warning(
            "CLIENT AUTHENTICATION IS OFF (AUTH_MODE=off): any caller is trusted. "
            "Never run like this with real patients."
        )


def app_from_environment() -> FastAPI:
    """The uvicorn factory: settings from the environment."""
    settings = get_settings()
    configure_logging(settings.log_level)
    return create_app(settings)
