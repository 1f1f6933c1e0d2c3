/**
 * The one module that reads `process.env`. Everything else receives values from here.
 */
export function readEnv(): Record<string, string | undefined> {
  return { ...process.env };
}

/** Where the CLI finds the server: `CUTOVER_URL` and `CUTOVER_TOKEN`, else the local data directory. */
export function cliEnv(): { url?: string; token?: string; dataDir?: string } {
  return {
    ...(process.env.CUTOVER_URL ? { url: process.env.CUTOVER_URL } : {}),
    ...(process.env.CUTOVER_TOKEN ? { token: process.env.CUTOVER_TOKEN } : {}),
    ...(process.env.CUTOVER_DATA_DIR ? { dataDir: process.env.CUTOVER_DATA_DIR } : {}),
  };
}
