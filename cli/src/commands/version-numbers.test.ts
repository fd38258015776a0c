import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeApi } from '../fake-api.test-helper.js';
import { runCaptured } from '../main-captured.test-helper.js';

// Version numbers start at 1 and the API stores them as 32-bit integers. `predict --version 0` once went to the
// edge (answered 404 there), and `aliases set m prod 99999999999` to the control plane: every command that
// takes a version number refuses one out of range before any request, in the control plane's own words.
const RANGE = 'a whole number from 1 to 2,147,483,647';
const BAD = ['0', '-1', '1.5', 'two', '2147483648', '99999999999', '1e3'];

describe('a version number out of range', () => {
  let api: Awaited<ReturnType<typeof fakeApi>>;
  let oip = '';

  beforeAll(async () => {
    api = await fakeApi();
    oip = join(api.configDir, 'oip.json');
    await writeFile(
      oip,
      JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }] }),
    );
  });
  afterAll(() => api.close());

  // The edge is the same fake: a request to either would be received.
  const run = (args: string[]) =>
    runCaptured(args, {
      MERIDIAN_CONFIG_DIR: api.configDir,
      MERIDIAN_API_URL: api.url,
      MERIDIAN_EDGE_URL: api.url,
      MERIDIAN_TOKEN: 'mk_test_fake',
    });

  it.each([
    [
      'predict --version',
      (v: string) => ['predict', 'ocr-cls', `--version=${v}`, '--data', oip],
      '--version',
    ],
    ['deploy --version', (v: string) => ['deploy', 'ocr-cls', `--version=${v}`], '--version'],
    ['aliases set', (v: string) => ['aliases', 'set', 'ocr-cls', 'prod', '--', v], 'VERSION'],
  ])('is refused by %s with exit 2, naming the range, and nothing is sent', async (_, args, flag) => {
    api.answer({});
    for (const bad of BAD) {
      const { code, stdout, stderr } = await run(args(bad));
      expect(stderr, bad).toBe(`meridian: ${flag} wants ${RANGE}, not ${bad}\n`);
      expect(stdout).toBe('');
      expect(code, bad).toBe(2);
    }
    expect(api.received).toEqual([]);
  });

  it('is refused when written as its own word, a dash and all', async () => {
    api.answer({});
    const { code, stderr } = await run(['predict', 'ocr-cls', '--version', '-1', '--data', oip]);
    expect(stderr).toBe(`meridian: --version wants ${RANGE}, not -1\n`);
    expect(code).toBe(2);
    expect(api.received).toEqual([]);
  });

  it('lets deploy ask for version 2,147,483,647: the request goes out', async () => {
    api.answer({});
    const { stderr } = await run(['deploy', 'ocr-cls', '--version', '2147483647']);
    expect(stderr).not.toContain('--version');
    expect(api.received.length).toBeGreaterThan(0);
  });

  it('lets predict pin version 2,147,483,647, the last there can be, and sends it in the path', async () => {
    api.answer({
      'POST /v2/models/ocr-cls/versions/2147483647/infer': {
        model_name: 'ocr-cls',
        outputs: [{ name: 'y', datatype: 'FP32', shape: [1], data: [2] }],
      },
    });
    const { code, stderr } = await run(['predict', 'ocr-cls', '--version', '2147483647', '--data', oip]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(api.received.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /v2/models/ocr-cls/versions/2147483647/infer',
    ]);
  });
});
