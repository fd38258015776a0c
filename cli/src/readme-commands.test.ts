import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from './main.js';

const README = fileURLToPath(new URL('../../README.md', import.meta.url));

/** The command a mention's words name (as far as they name one), and the words that did. */
function named(program: Command, words: string[]): { command: Command; path: string[] } {
  let command = program;
  const path: string[] = [];
  for (const word of words) {
    const sub = command.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!sub) break;
    command = sub;
    path.push(word);
  }
  return { command, path };
}

/** The flags a command takes: its own and those of the commands above it (`--json`, `--profile`). */
function flagsOf(command: Command): Set<string> {
  const flags = new Set(['--help', '-h']);
  for (let c: Command | null = command; c; c = c.parent)
    for (const o of c.options) for (const f of [o.long, o.short]) if (f) flags.add(f);
  return flags;
}

/** `meridian …` as the README shows it: in backticks, and the lines of its shell blocks. */
function mentions(text: string): string[] {
  const inline = [...text.matchAll(/`(?:npx )?(meridian [^`]*)`/g)].map((m) => m[1] as string);
  const blocks = [...text.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) =>
    [...(m[1] as string).matchAll(/\bnpx (meridian [^\n|;&>]*)/g)].map((l) => l[1] as string),
  );
  return [...inline, ...blocks];
}

// The README once sent readers to `meridian logs`, which never existed (it is `meridian deployments logs`).
describe('the README’s meridian commands', () => {
  it('name commands, subcommands and flags the CLI has', async () => {
    const program = buildProgram();
    const all = mentions(await readFile(README, 'utf8'));
    expect(all.length).toBeGreaterThan(20);
    const wrong = all.filter((mention) => {
      const words = mention.trim().split(/\s+/).slice(1);
      const { command, path } = named(
        program,
        words.filter((w) => !w.startsWith('-')),
      );
      const plain = words.filter((w) => /^[a-z][\w-]*$/.test(w));
      const flags = words.filter((w) => /^--?[a-zA-Z]/.test(w)).map((w) => w.split('=')[0] as string);
      const known = flagsOf(command);
      const noCommand = words.length > 0 && !words[0]?.startsWith('-') && path.length === 0;
      // A group (`deployments`) followed by a word that is none of its subcommands.
      const noSubcommand = command.commands.length > 0 && plain.length > path.length;
      return noCommand || noSubcommand || flags.some((f) => !known.has(f));
    });
    expect(wrong).toEqual([]);
  });
});
