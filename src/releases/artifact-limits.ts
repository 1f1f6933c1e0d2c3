/**
 * Largest artifact (.tgz) the CLI packs and the server accepts by default (setting
 * `maxArtifactSize`). 1 GiB: gzip shrinks a typical app tree (JavaScript, node_modules, assets)
 * three to four times, so a 1 GiB archive already unpacks to about the 4 GiB the agent's unpack
 * budget allows; a larger one would be refused there anyway, after a long upload and a copy on
 * every agent. Real web apps ship well below 500 MB.
 */
export const DEFAULT_MAX_ARTIFACT_BYTES = 1024 ** 3;
