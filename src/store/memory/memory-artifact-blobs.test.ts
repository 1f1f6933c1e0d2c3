import { artifactBlobsContract } from '../artifact-blobs-contract.ts';
import { createMemoryArtifactBlobs } from './memory-artifact-blobs.ts';
import type { MemoryBlob } from './memory-artifact-blobs.ts';

artifactBlobsContract('memory artifact blobs', async () => {
  const data = new Map<string, MemoryBlob>();
  const chunkSize = 16;
  return {
    blobs: createMemoryArtifactBlobs({ chunkSize, data }),
    chunkSize,
    async tamper(digest, seq, bytes) {
      data.get(digest)!.chunks[seq] = bytes ?? undefined;
    },
    cleanup: async () => {},
  };
});
