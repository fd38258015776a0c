import { describe, expect, it } from 'vitest';
import { MeridianClient, memorySource, uploadModelVersion } from '../src/index.js';

describe('uploadModelVersion', () => {
  it.each([0, Number.NaN, 1.5, -1, 17])(
    'refuses concurrency %s before sending anything',
    async (concurrency) => {
      const sent: string[] = [];
      // The fetch only records: nothing may reach a server, so none is needed.
      const client = new MeridianClient({
        baseUrl: 'http://127.0.0.1:9',
        apiKey: 'mk_live_unused',
        fetch: async (input) => {
          sent.push(String(input));
          return new Response(null, { status: 599 });
        },
      });
      const source = memorySource('big.onnx', new Uint8Array(12 * 1024 * 1024));
      await expect(uploadModelVersion(client, { modelId: 'mdl_1', source, concurrency })).rejects.toThrow(
        `concurrency must be a whole number from 1 to 16, not ${concurrency}`,
      );
      expect(sent).toEqual([]);
    },
  );
});
