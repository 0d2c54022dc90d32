"""The payers our DTR SMART app supports (DTR 2.0.1 "Determination of Payers Supported by a DTR
App"; spec-101 in later versions): `GET /dtr/supported-payers`.

- Path: the app is served at /dtr/, and an EHR configures the endpoint along with the app, so it
  sits under the app. The app is released with this service: one version, one endpoint
  (spec-104).
- Shape: a JSON object whose `payers` is an array of objects with string `id` and `name`
  (DTR 2.0.1; 2.2 moved to a List profile, not followed here). One entry: this payer, named
  PAYER_NAME, its id the value of the first PAYER_IDENTIFIERS entry (`system|value` or `value`),
  the identifier CRD matches Coverage.payor against. Without PAYER_IDENTIFIERS (development
  only) the list is empty: an id we made up would match nothing an EHR holds.
- Always `application/json`: DTR clients ask with `Accept: application/json`, and an answer in
  the only type there is serves any other Accept as well as a 406 would. TLS (a SHALL) is the
  deployment's: BASE_URL is https in production.
- Public: it names the payer and nothing else.
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends
from starlette.responses import Response

from service.runtime import Runtime, get_runtime
from service.settings import Settings
from service.types import JsonObject

router = APIRouter()


def supported_payers(settings: Settings) -> JsonObject:
    if not settings.payer_identifiers:
        return {"payers": []}
    identifier = settings.payer_identifiers[0].rpartition("|")[2]
    return {"payers": [{"id": identifier, "name": settings.payer_name}]}


@router.get("/dtr/supported-payers")
async def payers(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Response:
    return Response(orjson.dumps(supported_payers(runtime.settings)), media_type="application/json")
