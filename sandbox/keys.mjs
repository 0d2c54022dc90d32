// @ts-check
// The sandbox EHR's signing keys, made at start-up, and what it signs with them: OpenID Connect
// id_tokens and the CDS Hooks JWTs of its calls to the payer. Published at /auth/jwks.

import crypto from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';

import { randomKid } from './grants.mjs';
import { BASE } from './settings.mjs';

// Keys made at start-up (jose): RS256 for OpenID Connect id_tokens, ES384 for the CDS Hooks JWTs
// this EHR signs when it calls the payer. Both are published at /auth/jwks, the JWK Set the
// payer's client registry names for this EHR.
const idTokenKey = { ...(await generateKeyPair('RS256', { extractable: true })), kid: randomKid(), alg: 'RS256' };
export const hookKey = { ...(await generateKeyPair('ES384', { extractable: true })), kid: randomKid(), alg: 'ES384' };
// Who this EHR is to the payer: its CDS Hooks `iss` (and, in the payer's registry, its client).
const CLIENT_ISSUER = BASE;

/**
 * @param {import("jose").JWTPayload} claims
 */
export function signIdToken(claims) {
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: idTokenKey.kid }).sign(idTokenKey.privateKey);
}

// CDS Hooks 2.0 "Trusting CDS Clients": a fresh JWT per call, `aud` the service URL called.
/**
 * @param {string} audience
 */
export function signHookJwt(audience) {
  return new SignJWT({ jti: crypto.randomUUID() })
    .setProtectedHeader({ alg: 'ES384', typ: 'JWT', kid: hookKey.kid, jku: `${BASE}/auth/jwks` })
    .setIssuer(CLIENT_ISSUER)
    .setSubject('sandbox-ehr')
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime('2m')
    .sign(hookKey.privateKey);
}

const publishedKeys = {
  keys: await Promise.all(
    [idTokenKey, hookKey].map(async (key) => ({ ...(await exportJWK(key.publicKey)), kid: key.kid, use: 'sig', alg: key.alg })),
  ),
};

export function jwks() {
  return publishedKeys;
}
