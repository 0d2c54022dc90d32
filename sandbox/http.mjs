// @ts-check
// HTTP plumbing: bodies read within a limit, answers sent (JSON, FHIR, HTML, redirects, OAuth
// errors, OperationOutcomes), CORS.

import { FHIR_JSON, FORM_BODY_LIMIT } from './settings.mjs';

export class HttpError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * @param {import('./types.js').Request} req
 * @param {number} limit
 * @returns {Promise<Buffer>}
 */
export function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    /** @type {Buffer[]} */
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => (size > limit ? reject(new HttpError(413, 'Request body too large')) : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

/**
 * @param {import('./types.js').Request} req
 */
export async function readForm(req) {
  return new URLSearchParams((await readBody(req, FORM_BODY_LIMIT)).toString('utf8'));
}

/**
 * @param {import('./types.js').Response} res
 * @param {number} status
 * @param {string} body
 * @param {string} contentType
 * @param {import('./types.js').Headers} [headers]
 */
function send(res, status, body, contentType, headers = {}) {
  res.writeHead(status, { 'Content-Type': contentType, 'Cache-Control': 'no-store', ...headers });
  res.end(body);
}

/**
 * @param {import('./types.js').Response} res
 * @param {number} status
 * @param {unknown} value
 * @param {import('./types.js').Headers} [headers]
 */
export function sendJson(res, status, value, headers = {}) {
  send(res, status, JSON.stringify(value), 'application/json; charset=utf-8', { Pragma: 'no-cache', ...headers });
}

/**
 * @param {import('./types.js').Response} res
 * @param {number} status
 * @param {unknown} value
 * @param {import('./types.js').Headers} [headers]
 */
export function sendFhir(res, status, value, headers = {}) {
  send(res, status, value === null ? '' : JSON.stringify(value), FHIR_JSON, headers);
}

/**
 * @param {import('./types.js').Response} res
 * @param {number} status
 * @param {string} html
 * @param {import('./types.js').Headers} [headers]
 */
export function sendHtml(res, status, html, headers = {}) {
  send(res, status, html, 'text/html; charset=utf-8', headers);
}

/**
 * @param {import('./types.js').Response} res
 * @param {string} location
 * @param {number} [status]
 */
export function redirect(res, location, status = 302) {
  res.writeHead(status, { Location: location, 'Cache-Control': 'no-store' });
  res.end();
}

/**
 * @param {string} code
 * @param {string} text
 * @param {string} [severity]
 */
export function operationOutcome(code, text, severity = 'error') {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, details: { text } }] };
}

/**
 * @param {import('./types.js').Response} res
 * @param {string} error
 * @param {string} description
 * @param {number} [status]
 */
export function oauthError(res, error, description, status = 400) {
  sendJson(res, status, { error, error_description: description });
}

/**
 * @param {import('./types.js').Request} req
 * @param {import('./types.js').Response} res
 */
export function applyCors(req, res) {
  const origin = req.headers.origin;
  if (!origin) return;
  res.setHeader('Access-Control-Allow-Origin', origin);
  res.setHeader('Vary', 'Origin');
  res.setHeader('Access-Control-Expose-Headers', 'Location, ETag, Last-Modified, Content-Location');
}

/**
 * @param {import('./types.js').Request} req
 */
export function wantsJson(req) {
  return /application\/json/i.test(req.headers.accept ?? '');
}
