import { STATUS_CODES } from 'node:http';
import type { ServerResponse } from 'node:http';

/** A response the router answers itself (no upstream served it): status, machine code, message. */
export interface RouterError {
  status: number;
  code: string;
  message: string;
  /** `Retry-After` of a 503 (default 1). */
  retryAfterSeconds?: number;
}

/** Upstream refused the connection, reset it, or sent something unparsable. */
export const BAD_GATEWAY: RouterError = {
  status: 502,
  code: 'BAD_GATEWAY',
  message: 'the application did not answer; try again shortly',
};

/** Upstream accepted the request but sent no response headers in time, or a drain cut it. */
export const GATEWAY_TIMEOUT: RouterError = {
  status: 504,
  code: 'GATEWAY_TIMEOUT',
  message: 'the application did not answer in time',
};

/** The request could not be forwarded as sent (a request target that would split the request line). */
export const BAD_REQUEST: RouterError = {
  status: 400,
  code: 'BAD_REQUEST',
  message: 'the request cannot be forwarded as sent',
};

/** An absolute-form request target whose authority is not the Host header (RFC 9112 §3.2.2). */
export const TARGET_MISMATCH: RouterError = {
  status: 400,
  code: 'BAD_REQUEST',
  message: 'the request target names another host than the Host header; send origin-form (a path) or matching values',
};

/** A declared or counted request body over `maxBodyBytes`. */
export const PAYLOAD_TOO_LARGE: RouterError = {
  status: 413,
  code: 'PAYLOAD_TOO_LARGE',
  message: 'the request body is larger than this server accepts',
};

/** A preview token that does not match (or a preview while none is open). */
export const PREVIEW_DENIED: RouterError = {
  status: 403,
  code: 'PREVIEW_DENIED',
  message: 'the preview token is not valid for this instance; ask for the current token',
};

/** A method the router's own endpoints do not answer. */
export const METHOD_NOT_ALLOWED: RouterError = {
  status: 405,
  code: 'METHOD_NOT_ALLOWED',
  message: 'this endpoint answers GET and HEAD only',
};

/** 503 for a valid preview request while the idle colour is not registered. */
export function noPreviewSlot(instance: string): RouterError {
  return {
    status: 503,
    code: 'NO_PREVIEW_SLOT',
    message: `instance "${instance}" has no idle slot to preview; deploy one first`,
  };
}

/** 404 for a path under the router's reserved `/.well-known/cutover/` prefix that does not exist. */
export function unknownEndpoint(path: string): RouterError {
  return { status: 404, code: 'NOT_FOUND', message: `the router has no endpoint "${path}"` };
}

/** 404 for a Host no instance serves. */
export function notFound(host: string): RouterError {
  return { status: 404, code: 'NOT_FOUND', message: `no instance serves host "${host}"` };
}

/** 503 for an instance that has no active colour (sent with `retry-after: 1`). */
export function noActiveSlot(instance: string): RouterError {
  return {
    status: 503,
    code: 'NO_ACTIVE_SLOT',
    message: `instance "${instance}" has no active slot; it is being deployed or was deactivated`,
  };
}

function body(error: RouterError): string {
  return JSON.stringify({ code: error.code, message: error.message });
}

/**
 * Answers `res` with the error as JSON (plus `extraHeaders`, name/value pairs). Never throws; a
 * response already started is left alone.
 */
export function sendError(res: ServerResponse, error: RouterError, extraHeaders?: readonly string[]): void {
  if (res.headersSent || res.destroyed) return;
  const payload = body(error);
  const headers = [
    'content-type',
    'application/json; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(payload)),
    'cache-control',
    'no-store',
  ];
  if (error.status === 503) headers.push('retry-after', String(error.retryAfterSeconds ?? 1));
  if (extraHeaders !== undefined) headers.push(...extraHeaders);
  res.writeHead(error.status, headers);
  res.end(payload);
}

/** The same answer serialised by hand, for a socket taken over by an upgrade request. */
export function rawErrorResponse(error: RouterError): string {
  const payload = body(error);
  return (
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}\r\n` +
    'content-type: application/json; charset=utf-8\r\n' +
    `content-length: ${Buffer.byteLength(payload)}\r\n` +
    'cache-control: no-store\r\n' +
    (error.status === 503 ? `retry-after: ${error.retryAfterSeconds ?? 1}\r\n` : '') +
    'connection: close\r\n\r\n' +
    payload
  );
}
