import { MeridianError, NetworkError, WaitTimeoutError } from '@meridian/sdk';
import { Command, CommanderError, Help, Option } from 'commander';
import { alertCommands } from './commands/alerts.js';
import { auditCommand } from './commands/audit.js';
import { authCommands } from './commands/auth.js';
import { batchCommands } from './commands/batch.js';
import { billingCommands } from './commands/billing.js';
import { completionCommand } from './commands/completion.js';
import { deploymentCommands } from './commands/deployments.js';
import { experimentCommands } from './commands/experiments.js';
import { imageCommands } from './commands/images.js';
import { invitationCommands } from './commands/invitations.js';
import { keyCommands } from './commands/keys.js';
import { memberCommands } from './commands/members.js';
import { modelCommands } from './commands/models.js';
import { notebookCommands } from './commands/notebooks.js';
import { planCommands } from './commands/plan.js';
import { predictCommand } from './commands/predict.js';
import { runCommands } from './commands/runs.js';
import { CliError, EXIT } from './context.js';

const EXIT_CODES = `
Exit codes:
  0  success
  1  the server refused the request, or a local problem (a missing file, not logged in)
  2  usage: an unknown command or option, a missing or malformed argument
  3  the server could not be reached
  4  what --wait waited for did not succeed: a deployment failed (deploy --wait), a batch job ended
     failed, cancelled or expired (batch create --wait), or a notebook failed to start (notebooks create
     or start --wait, notebooks open --wait); or it was still on its way when --timeout ran out

Environment: MERIDIAN_API_URL, MERIDIAN_EDGE_URL, MERIDIAN_TOKEN (an API key or access token instead of
the stored login), MERIDIAN_PROFILE, MERIDIAN_CONFIG_DIR (default ~/.config/meridian).`;

const CLI_VERSION = '0.1.0';
const VERSION_FLAGS = ['--version', '-V'];
// Shown in the top-level help only. Commander's own version option would be read anywhere on the line, so
// `deploy m --version 2` and `predict m --version 2` printed the CLI's version instead of pinning a model's.
const VERSION_OPTION = new Option('-V, --version', 'output the version number');

/** The whole command tree. */
export function buildProgram(): Command {
  const program = new Command('meridian')
    .description('The Meridian ML platform from the command line')
    .configureHelp({
      visibleOptions(this: Help, cmd: Command) {
        const shown = Help.prototype.visibleOptions.call(this, cmd);
        return cmd.parent ? shown : [VERSION_OPTION, ...shown];
      },
    })
    .option('--json', 'machine-readable output')
    .option('--profile <name>', 'which stored login to use (default: default)')
    .option(
      '--api-url <url>',
      'the control plane, an http(s) URL (default: the profile’s, or http://127.0.0.1:8080)',
    )
    .option(
      '--edge-url <url>',
      'the edge, for predictions, an http(s) URL (default: the profile’s, or http://127.0.0.1:8787)',
    )
    .addOption(new Option('--debug', 'show stack traces'))
    .addHelpText('after', EXIT_CODES)
    .showHelpAfterError()
    .exitOverride();
  authCommands(program);
  keyCommands(program);
  modelCommands(program);
  deploymentCommands(program);
  predictCommand(program);
  notebookCommands(program);
  billingCommands(program);
  planCommands(program);
  batchCommands(program);
  alertCommands(program);
  experimentCommands(program);
  runCommands(program);
  memberCommands(program);
  invitationCommands(program);
  imageCommands(program);
  auditCommand(program);
  completionCommand(program);
  // Every command exits through main(): usage errors get exit 2, not commander's 1.
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const command of all(program)) command.exitOverride().showHelpAfterError();
  return program;
}

/** Explains a failure in one line (a stack trace only with --debug) and picks the exit code. */
export function report(error: unknown, debug: boolean): number {
  if (error instanceof CommanderError) {
    // Commander has printed the message and the usage already.
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (debug && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  if (error instanceof CliError) {
    process.stderr.write(`meridian: ${error.message}\n`);
    return error.exitCode;
  }
  if (error instanceof WaitTimeoutError) {
    // Not a bug to debug: what was waited for is still on its way (a deployment no agent has taken yet).
    process.stderr.write(`meridian: ${error.message}\n`);
    return EXIT.waitTimedOut;
  }
  if (error instanceof NetworkError) {
    process.stderr.write(
      `meridian: cannot reach the server at ${error.url}: is it running? (${error.message})\n`,
    );
    return EXIT.unreachable;
  }
  if (error instanceof MeridianError) {
    const id = error.requestId ? ` [request ${error.requestId}]` : '';
    // A refusal of one field already says it in its message (`password: …`): not again below it.
    const details = error.details
      .map((d) => `${d.path}: ${d.message}`)
      .filter((line) => !error.message.includes(line))
      .map((line) => `\n  ${line}`)
      .join('');
    // Where the server sent no code, a made-up `http_400` would only repeat the status.
    const code = error.serverCode ? ` ${error.serverCode}` : '';
    process.stderr.write(`meridian: ${error.message} (${error.status}${code})${id}${details}\n`);
    return EXIT.error;
  }
  process.stderr.write(`meridian: ${error instanceof Error ? error.message : String(error)}\n`);
  if (!debug) process.stderr.write('(run with --debug for details)\n');
  return EXIT.error;
}

/** `--version` (or `-V`) before any command asks for the CLI's; after one, it is that command's option. */
function asksForVersion(program: Command, argv: string[]): boolean {
  const commands = new Set(program.commands.flatMap((c) => [c.name(), ...c.aliases()]));
  for (const arg of argv) {
    if (commands.has(arg)) return false;
    if (VERSION_FLAGS.includes(arg)) return true;
  }
  return false;
}

export async function main(argv: string[]): Promise<number> {
  const debug = argv.includes('--debug');
  try {
    const program = buildProgram();
    if (asksForVersion(program, argv)) {
      process.stdout.write(`${CLI_VERSION}\n`);
      return EXIT.ok;
    }
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    return report(error, debug);
  }
}
