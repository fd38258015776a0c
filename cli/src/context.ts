import { LoginEndedError, MeridianClient } from '@meridian/sdk';
import type { Command } from 'commander';
import { Credentials, configDir, type Profile } from './config.js';

/** Options every command takes (before or after the command name). */
export interface GlobalOptions {
  json?: boolean;
  debug?: boolean;
  profile?: string;
  apiUrl?: string;
  edgeUrl?: string;
}

/** A failure the CLI explains itself, with the exit code it documents. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

// 4 means what --wait waited for did not succeed, whichever command waited.
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  unreachable: 3,
  deploymentFailed: 4,
  batchNotCompleted: 4,
  notebookFailed: 4,
  waitTimedOut: 4,
} as const;

export const DEFAULT_API_URL = 'http://127.0.0.1:8080';
export const DEFAULT_EDGE_URL = 'http://127.0.0.1:8787';

/** What a command runs with: its options, the stored profile, and a client for it. */
export class Context {
  readonly options: GlobalOptions;
  readonly credentials = new Credentials(configDir());
  readonly profileName: string;

  constructor(command: Command) {
    this.options = command.optsWithGlobals<GlobalOptions>();
    this.profileName = this.options.profile ?? process.env.MERIDIAN_PROFILE ?? 'default';
  }

  async profile(): Promise<Profile | undefined> {
    return this.credentials.profile(this.profileName);
  }

  apiUrl(): Promise<string> {
    return this.url(this.options.apiUrl, '--api-url', 'MERIDIAN_API_URL', 'apiUrl', DEFAULT_API_URL);
  }

  edgeUrl(): Promise<string> {
    return this.url(this.options.edgeUrl, '--edge-url', 'MERIDIAN_EDGE_URL', 'edgeUrl', DEFAULT_EDGE_URL);
  }

  /** Flag, then environment, then the profile, then the local default; a flag or variable must be http(s). */
  private async url(
    flag: string | undefined,
    flagName: string,
    variable: string,
    saved: 'apiUrl' | 'edgeUrl',
    fallback: string,
  ): Promise<string> {
    // An empty variable counts as unset, as MERIDIAN_CONFIG_DIR's does.
    const given = flag ?? (process.env[variable] || undefined);
    if (given !== undefined) return httpUrl(given, flag !== undefined ? flagName : variable, fallback);
    return (await this.profile())?.[saved] ?? fallback;
  }

  /** A client with MERIDIAN_TOKEN (an API key or access token) or the profile's login, renewed as needed. */
  async client(options: { requireLogin?: boolean } = {}): Promise<MeridianClient> {
    // The URLs first: a malformed one is a usage error, whether or not a login exists.
    const baseUrl = await this.apiUrl();
    const edgeUrl = await this.edgeUrl();
    const token = process.env.MERIDIAN_TOKEN;
    const profile = await this.profile();
    if (!token && !profile?.tokens && options.requireLogin !== false) {
      throw new CliError(
        `Not logged in (profile ${this.profileName}): run \`meridian login\` or set MERIDIAN_TOKEN`,
      );
    }
    return new MeridianClient({
      baseUrl,
      edgeUrl,
      ...(token ? { apiKey: token } : { tokens: this.credentials.tokenStore(this.profileName) }),
    });
  }

  /** Prints `value` as JSON under --json, else the human text (nothing at all for empty text, not a blank line). */
  print(value: unknown, human: () => string): void {
    if (this.options.json) {
      process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
      return;
    }
    const text = human();
    if (text !== '') process.stdout.write(`${text}\n`);
  }

  /** Progress and status lines: stderr, so stdout stays the command's result. */
  note(line: string): void {
    if (!this.options.json) process.stderr.write(`${line}\n`);
  }
}

/**
 * `value` when it is an http(s) URL. Anything else is a usage error naming where it came from: without a
 * scheme (`localhost:8080`) a URL parses with `localhost:` as its scheme, and requests to it could only fail.
 */
export function httpUrl(value: string, source: string, example: string): string {
  if (isHttpUrl(value)) return value;
  // `localhost:8080` is most likely `http://localhost:8080`: say so.
  const likely = !value.includes('://') && isHttpUrl(`http://${value}`) ? `http://${value}` : example;
  throw new CliError(`${source} must be an http(s) URL such as ${likely}, not ${value}`, EXIT.usage);
}

function isHttpUrl(value: string): boolean {
  const protocol = URL.canParse(value) ? new URL(value).protocol : undefined;
  return protocol === 'http:' || protocol === 'https:';
}

/** Columns padded to their widest cell. */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map((r) =>
      r
        .map((c, i) => (c ?? '').padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * A login the server no longer renews (a logout elsewhere, a removal from the organisation) is explained as
 * not being logged in is: with the command that helps.
 */
function explain(ctx: Context, error: unknown): unknown {
  if (!(error instanceof LoginEndedError)) return error;
  const profile = ctx.profileName === 'default' ? '' : ` --profile ${ctx.profileName}`;
  return new CliError(
    `The login of profile ${ctx.profileName} has ended (${error.message}): run \`meridian login${profile}\` to log in again`,
  );
}

/** Runs a command body with its Context; errors are reported once, in main.ts. */
export function action<A extends unknown[]>(run: (ctx: Context, ...args: A) => Promise<void>) {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const ctx = new Context(command);
    try {
      await run(ctx, ...(args.slice(0, -1) as A));
    } catch (error) {
      throw explain(ctx, error);
    }
  };
}
