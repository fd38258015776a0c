import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from './main.js';

/** Every command under `program`, with its full name as a user types it. */
function commands(program: Command, prefix = ''): { name: string; command: Command }[] {
  return program.commands.flatMap((command) => {
    const name = `${prefix}${command.name()}`;
    return [{ name, command }, ...commands(command, `${name} `)];
  });
}

// `meridian <group> --help` is where a user who never read the docs finds out what a command does.
describe('meridian --help', () => {
  const all = commands(buildProgram());

  it('describes every command', () => {
    expect(all.length).toBeGreaterThan(30);
    const bare = all.filter(({ command }) => command.description().trim() === '').map(({ name }) => name);
    expect(bare).toEqual([]);
  });

  it('describes every option of every command', () => {
    const bare = all.flatMap(({ name, command }) =>
      command.options.filter((o) => !o.description?.trim()).map((o) => `${name} ${o.flags}`),
    );
    expect(bare).toEqual([]);
  });
});
