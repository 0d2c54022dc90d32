// @ts-check
// The sandbox EHR's settings, from the environment: where it listens, its public base, the payer
// it talks to, the examples it loads, the admin token, other SMART apps it may launch; and the
// fixed lifetimes and limits.

import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SANDBOX_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_DIR = path.dirname(SANDBOX_DIR);

const env = process.env;
export const HOST = env.SANDBOX_HOST || '127.0.0.1';
export const PORT = Number.parseInt(env.SANDBOX_PORT || '8090', 10);
export const BASE = trimSlash(env.SANDBOX_BASE_URL || `http://${HOST.includes(':') ? `[${HOST}]` : HOST}:${PORT}`);
export const FHIR_BASE = `${BASE}/fhir`;
export const PAYER = trimSlash(env.PAYER_URL || 'http://127.0.0.1:8080');
export const EXAMPLES_DIR = path.resolve(env.EXAMPLES_DIR || path.join(REPO_DIR, 'fhir_examples'));
export const ADMIN_TOKEN = env.SANDBOX_ADMIN_TOKEN || '';
export const APP_REDIRECTS = (env.SANDBOX_APP_REDIRECTS || '')
  .split(',')
  .map((prefix) => prefix.trim())
  .filter((prefix) => /^https?:\/\/[^/]+\//.test(prefix));

export const CRD_SERVICE_ID = 'crd-order-sign';
export const EXT_COVERAGE_INFO = 'http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information';
export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

export const CODE_TTL_MS = 5 * 60 * 1000;
export const TOKEN_TTL_S = 3600;
export const LAUNCH_TTL_MS = 60 * 60 * 1000;
export const PENDING_TTL_MS = 10 * 60 * 1000;
export const FHIR_BODY_LIMIT = 10 * 1024 * 1024;
export const FORM_BODY_LIMIT = 64 * 1024;
export const PAYER_TIMEOUT_MS = 30 * 1000;

/**
 * @param {unknown} value
 */
export function trimSlash(value) {
  return String(value).replace(/\/+$/, '');
}
