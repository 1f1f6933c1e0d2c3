import { STATUS_CODES } from 'node:http';
import type { ServerResponse } from 'node:http';

/** A response the router answers itself (no upstream served it): status, machine code, message. */
export interface RouterError {
  status: number;
  code: string;
  message: string;
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

/** The request could not be forwarded as sent (e.g. a request target undici refuses). */
export const BAD_REQUEST: RouterError = {
  status: 400,
  code: 'BAD_REQUEST',
  message: 'the request cannot be forwarded as sent',
};

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

/** Answers `res` with the error as JSON. Never throws; a response already started is left alone. */
export function sendError(res: ServerResponse, error: RouterError): void {
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
  if (error.status === 503) headers.push('retry-after', '1');
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
    (error.status === 503 ? 'retry-after: 1\r\n' : '') +
    'connection: close\r\n\r\n' +
    payload
  );
}
