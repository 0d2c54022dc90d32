// @ts-check
// SMART state, all in memory: launches, pending standalone authorizations, codes and tokens; the
// grant a bearer token carries (the admin token reaches every record).

import crypto from 'node:crypto';

import { ADMIN_TOKEN } from './settings.mjs';

export const launches = new Map(); // id -> { nn, resume, expires }
export const pending = new Map(); // id -> { request, expires }
export const codes = new Map(); // code -> { clientId, redirectUri, scope, challenge, nn, resume, expires }
export const tokens = new Map(); // token -> { nn, scope, clientId, fhirUser, expires }

export function randomKid() {
  return crypto.randomBytes(8).toString('hex');
}

export function randomId(bytes = 32) {
  return crypto.randomBytes(bytes).toString('base64url');
}

export function sha256(value) {
  return crypto.createHash('sha256').update(value).digest();
}

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

function bearerToken(req) {
  const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  return match ? match[1] : null;
}

// The grant of an active token: { admin: true } for the admin token, else the token's launch.
export function grantOf(token) {
  if (!token) return null;
  if (ADMIN_TOKEN && sameSecret(token, ADMIN_TOKEN)) return { admin: true };
  const grant = tokens.get(token);
  if (!grant || grant.expires < Date.now()) return null;
  return grant;
}

export function authenticate(req) {
  return grantOf(bearerToken(req));
}
