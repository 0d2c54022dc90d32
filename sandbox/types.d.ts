// The shapes the sandbox EHR's modules pass between them (JSDoc imports these types).
import type { IncomingMessage, ServerResponse } from 'node:http';

/** FHIR (or other) JSON: each module checks what it reads. */
export type Json = Record<string, any>;
export type Request = IncomingMessage;
export type Response = ServerResponse;
export type Headers = Record<string, string>;

/** One fhir_examples/NN-name folder, loaded. */
export interface Example {
  nn: string;
  folder: string;
  patientId: string;
  patientName: string;
  birthDate: string;
  orderType: string | null;
  orderId: string | null;
  coverageId: string | null;
  prescriberId: string;
}

/** What a token issued here grants: a launch's patient (by example) and scopes. */
export interface Grant {
  nn: string;
  scope: string;
  clientId: string;
  fhirUser?: string;
  resume?: string | null;
  expires: number;
  admin?: false;
}

/** The admin token's grant: every record. */
export interface AdminGrant {
  admin: true;
}

/** An authorization request as /auth/authorize read it. */
export interface AuthorizationRequest {
  responseType: string | null;
  clientId: string | null;
  redirectUri: string | null;
  scope: string;
  state: string | null;
  aud: string | null;
  launch: string | null;
  challenge: string | null;
  challengeMethod: string | null;
}

/** An authorization request once checked: its client, redirect and PKCE challenge are there. */
export type CheckedRequest = AuthorizationRequest & { clientId: string; redirectUri: string; challenge: string };

/** A code issued for a launch or a chosen patient, until it is traded for a token. */
export interface CodeGrant {
  clientId: string;
  redirectUri: string;
  scope: string;
  challenge: string;
  nn: string;
  resume: string | null;
  expires: number;
}

/** One FHIR interaction's result (fhirCall). */
export interface FhirResult {
  status: number;
  body: any;
  headers: Headers;
  outcome: any;
}

/** One coverage-information extension the payer put on an order, read. */
export interface CoverageInformation {
  assertionId: string | null;
  questionnaires: string[];
  covered: string | null;
  paNeeded: string | null;
  docNeeded: string[];
  infoNeeded: string[];
  coverage: string | null;
  date: string | null;
  reference: string;
}

/** What the payer answered when an example's order was signed. */
export interface Signed {
  at: string;
  status: number;
  cards: Json[];
  systemActions: Json[];
  coverageInformation: CoverageInformation[];
  assertionId: string | null;
  questionnaires: string[];
}
