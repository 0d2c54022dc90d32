// @ts-check
// SMART state, all in memory: launches, pending standalone authorizations, codes and tokens; the
// grant a bearer token carries (the admin token reaches every record).

import crypto from 'node:crypto';

import { ADMIN_TOKEN } from './settings.mjs';

/** @type {Map<string, { nn: string, resume: string | null, expires: number }>} id -> launch */
export const launches = new Map();
/** @type {Map<string, { request: import('./types.js').AuthorizationRequest, expires: number }>} id -> standalone authorization */
export const pending = new Map();
/** @type {Map<string, import('./types.js').CodeGrant>} */
export const codes = new Map();
/** @type {Map<string, import('./types.js').Grant>} */
export const tokens = new Map();

export function randomKid() {
  return crypto.randomBytes(8).toString('hex');
}

export function randomId(bytes = 32) {
  return crypto.randomBytes(bytes).toString('base64url');
}

/**
 * @param {string} value
 */
export function sha256(value) {
  return crypto.createHash('sha256').update(value).digest();
}

/**
 * @param {unknown} a
 * @param {unknown} b
 */
export function sameSecret(a, b) {
  return crypto.timingSafeEqual(sha256(String(a)), sha256(String(b)));
}

const sweeper = setInterval(() => {
  const now = Date.now();
  for (const store of [launches, pending, codes, tokens]) {
    for (const [key, value] of store) if (value.expires < now) store.delete(key);
  }
}, 60 * 1000);
sweeper.unref();

/**
 * @param {import('./types.js').Request} req
 */
function bearerToken(req) {
  const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  return match ? match[1] : null;
}

// The grant of an active token: { admin: true } for the admin token, else the token's launch.
/**
 * @param {string | null | undefined} token
 * @returns {import('./types.js').Grant | import('./types.js').AdminGrant | null}
 */
export function grantOf(token) {
  if (!token) return null;
  if (ADMIN_TOKEN && sameSecret(token, ADMIN_TOKEN)) return { admin: true };
  const grant = tokens.get(token);
  if (!grant || grant.expires < Date.now()) return null;
  return grant;
}

/**
 * @param {import('./types.js').Request} req
 */
export function authenticate(req) {
  return grantOf(bearerToken(req));
}
