import type { Command } from 'commander';
import { CliError } from '../context.js';

/**
 * Every command path with its subcommands and options, for the completion scripts: the options its help
 * shows (the top level's `--version` lives there, not among the options commander parses).
 */
function tree(command: Command, prefix: string[] = []): { path: string[]; words: string[] }[] {
  const options = command.createHelp().visibleOptions(command);
  const words = [
    ...command.commands.map((c) => c.name()),
    ...options.map((o) => o.long ?? o.short ?? '').filter(Boolean),
  ];
  return [{ path: prefix, words }, ...command.commands.flatMap((c) => tree(c, [...prefix, c.name()]))];
}

function bash(program: Command): string {
  const cases = tree(program)
    .map(({ path, words }) => `    "${path.join(' ')}") words="${words.join(' ')}" ;;`)
    .join('\n');
  return `# meridian completion for bash: eval "$(meridian completion bash)"
_meridian() {
  local cur path="" i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in -*) ;; *) path="\${path:+$path }\${COMP_WORDS[i]}" ;; esac
  done
  local words=""
  case "$path" in
${cases}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _meridian meridian
`;
}

export function completionCommand(program: Command): void {
  program
    .command('completion <shell>')
    .description('Print a shell completion script (bash; zsh through bashcompinit)')
    .action((shell: string) => {
      if (shell === 'bash') process.stdout.write(bash(program));
      else if (shell === 'zsh')
        process.stdout.write(`autoload -U +X bashcompinit && bashcompinit\n${bash(program)}`);
      else throw new CliError(`No completion for ${shell}: bash or zsh`, 2);
    });
}
