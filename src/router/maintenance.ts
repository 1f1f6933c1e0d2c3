import type { ServerResponse } from 'node:http';
import type { RouterError } from './error-response.ts';

/** What `Router.setMaintenance` takes: the page every request of the instance gets, with a 503. */
export interface MaintenancePage {
  /** A complete HTML document; default: a short neutral page. */
  html?: string;
  /** Sent as `Retry-After`; default 30. */
  retryAfterSeconds?: number;
}

const DEFAULT_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Down for maintenance</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:20vh auto;padding:0 1rem;color:#333}</style>
</head><body><h1>Down for maintenance</h1><p>We are working on the site and will be back shortly. Please try again in a few minutes.</p></body></html>
`;

/** A maintenance answer, serialised once when maintenance is switched on. */
export class MaintenanceResponse {
  readonly body: Buffer;
  readonly headers: readonly string[];
  readonly retryAfterSeconds: number;
  /** The JSON answer for requests that cannot take a page (WebSocket upgrades). */
  readonly error: RouterError;

  constructor(page: MaintenancePage) {
    this.body = Buffer.from(page.html ?? DEFAULT_HTML, 'utf8');
    this.retryAfterSeconds = page.retryAfterSeconds ?? 30;
    this.error = {
      status: 503,
      code: 'MAINTENANCE',
      message: 'the site is down for maintenance; try again later',
      retryAfterSeconds: this.retryAfterSeconds,
    };
    this.headers = [
      'content-type',
      'text/html; charset=utf-8',
      'content-length',
      String(this.body.length),
      'cache-control',
      'no-store',
      'retry-after',
      String(this.retryAfterSeconds),
    ];
  }

  /** Answers with 503 and the page (headers only for HEAD). */
  send(res: ServerResponse, head: boolean): void {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(503, this.headers as string[]);
    if (head) res.end();
    else res.end(this.body);
  }
}
