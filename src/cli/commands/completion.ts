import type { Command, Option } from 'commander';
import { examples, oneOf } from '../options.js';

const SHELLS = ['bash', 'zsh'] as const;
type Shell = (typeof SHELLS)[number];

export function registerCompletion(program: Command): void {
  const cmd = program
    .command('completion')
    .description('print a shell completion script for finmesh (commands, subcommands and options)')
    .argument('<shell>', 'bash or zsh', oneOf(SHELLS))
    .action((shell: Shell) => {
      process.stdout.write(shell === 'bash' ? bashScript(program) : zshScript(program));
    });
  examples(cmd, [
    'finmesh completion bash > /etc/bash_completion.d/finmesh   # or in ~/.bashrc: eval "$(finmesh completion bash)"',
    'finmesh completion zsh > ~/.zfunc/_finmesh                 # with fpath+=(~/.zfunc); autoload -U compinit && compinit',
  ]);
}

interface Node {
  /** Space-joined command path: '' for finmesh itself, 'lake gc' for `finmesh lake gc`. */
  path: string;
  command: Command;
}

function walk(program: Command): Node[] {
  const out: Node[] = [];
  const visit = (c: Command, path: string) => {
    out.push({ path, command: c });
    for (const sub of c.commands) visit(sub, path ? `${path} ${sub.name()}` : sub.name());
  };
  visit(program, '');
  return out;
}

/** Options that take a folder or a file: completed as paths. */
const DIR_OPTIONS = new Set(['--project', '--dir', '--runbooks']);
const FILE_OPTIONS = new Set(['--out']);

function flags(c: Command): readonly Option[] {
  return c.options;
}

function words(c: Command): string[] {
  return [
    ...c.commands.map((s) => s.name()),
    ...flags(c).flatMap((o) => [o.long, o.short].filter((x): x is string => Boolean(x))),
    '--help',
  ];
}

function bashScript(program: Command): string {
  const nodes = walk(program);
  const paths = nodes.filter((n) => n.path).map((n) => `"${n.path}"`);
  const cases = nodes.map((n) => `    "${n.path}") opts="${words(n.command).join(' ')}" ;;`);
  const valued = [...new Set(nodes.flatMap((n) => flags(n.command).filter((o) => o.required || o.optional)).map((o) => o.long))];
  return `# finmesh completion for bash. Load it with: eval "$(finmesh completion bash)"
_finmesh() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" cmd="" k i opts
  for ((i = 1; i < COMP_CWORD; i++)); do
    k="\${cmd:+$cmd }\${COMP_WORDS[i]}"
    case "$k" in
      ${paths.join('|')}) cmd="$k" ;;
    esac
  done
  case "$prev" in
    ${[...DIR_OPTIONS].join('|')}) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    ${[...FILE_OPTIONS].join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    ${valued.filter((o) => o && !DIR_OPTIONS.has(o) && !FILE_OPTIONS.has(o)).join('|')}) COMPREPLY=(); return ;;
  esac
  case "$cmd" in
${cases.join('\n')}
  esac
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -o default -F _finmesh finmesh
`;
}

const zq = (s: string) => s.replace(/'/g, "'\\''");
const zdesc = (s: string) => zq(s.replace(/[[\]:]/g, (m) => `\\${m}`).slice(0, 90));

function zshScript(program: Command): string {
  const nodes = walk(program);
  const paths = nodes.filter((n) => n.path).map((n) => `'${n.path}'`);
  const cases = nodes.map((n) => {
    const subs = n.command.commands.map((s) => `'${zq(s.name())}:${zdesc(s.description())}'`);
    const opts = flags(n.command).map((o) => {
      const arg =
        o.required || o.optional
          ? `:${o.long?.slice(2) ?? 'value'}:${DIR_OPTIONS.has(o.long ?? '') ? '_files -/' : FILE_OPTIONS.has(o.long ?? '') ? '_files' : ' '}`
          : '';
      return `'${o.long}[${zdesc(o.description)}]${arg}'`;
    });
    const lines = [`    '${n.path}')`];
    if (subs.length > 0)
      lines.push(`      local -a subcommands=(${subs.join(' ')})`, "      _describe -t commands 'finmesh command' subcommands");
    lines.push(`      _arguments -s ${[...opts, "'--help[show help]'"].join(' ')} '*:file:_files'`, '      ;;');
    return lines.join('\n');
  });
  return `#compdef finmesh
# finmesh completion for zsh. Save as _finmesh in a folder of $fpath, then: autoload -U compinit && compinit
_finmesh() {
  local cmd='' k w
  for w in \${words[2,CURRENT-1]}; do
    k="\${cmd:+$cmd }$w"
    case "$k" in
      ${paths.join('|')}) cmd="$k" ;;
    esac
  done
  case "$cmd" in
${cases.join('\n')}
  esac
}
if [ "$funcstack[1]" = "_finmesh" ]; then _finmesh "$@"; else compdef _finmesh finmesh; fi
`;
}
