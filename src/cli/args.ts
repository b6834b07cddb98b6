/**
 * The command line of every ClauseWatch CLI (`npm run digest|replay|demo|tokens|templates:build|
 * discord:register`), on node:util parseArgs with the conventions tools expect: `--help` prints
 * the usage on stdout and exits 0, `--version` prints the package version and exits 0, and a
 * usage error (unknown option, missing value, a value of the wrong form) prints one line naming
 * the option on stderr and exits 2, as getopt-style tools do, before anything is read or sent.
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface CliSpec<O extends Options> {
  /** The npm script's name, as the user types it: `npm run <name>`. */
  name: string;
  /** The usage text, printed as is by --help: first line `usage: …`, then the options. */
  usage: string;
  options: O;
  allowPositionals?: boolean;
  argv?: string[];
}

export class UsageError extends Error {}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** Exits 2 with `name: message` and where to find the usage, as a usage error does. */
export function exitUsage(name: string, message: string): never {
  process.stderr.write(`${name}: ${message} (npm run ${name} -- --help lists the options)\n`);
  process.exit(2);
}

export function parseCli<O extends Options>(spec: CliSpec<O>) {
  const options = { ...spec.options, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean' } } as const;
  let parsed;
  try {
    parsed = parseArgs({ args: spec.argv ?? process.argv.slice(2), options, allowPositionals: spec.allowPositionals ?? false, strict: true });
  } catch (e) {
    const text = e instanceof Error ? e.message.replace(/\. This command.*$/, ' (this command takes no arguments)').replace(/\. To specify a positional.*$/, '') : String(e);
    const message = text.charAt(0).toLowerCase() + text.slice(1);
    exitUsage(spec.name, message);
  }
  const values = parsed.values as Record<string, unknown>;
  if (values.help) {
    process.stdout.write(`${spec.usage.trim()}\n\n  -h, --help     this text\n      --version  print the ClauseWatch version\n`);
    process.exit(0);
  }
  if (values.version) {
    process.stdout.write(`${packageVersion()}\n`);
    process.exit(0);
  }
  return {
    values: parsed.values as ReturnType<typeof parseArgs<{ options: O; allowPositionals: boolean; strict: true }>>['values'],
    positionals: parsed.positionals,
    /** A value of the wrong form: exits 2 naming the option. */
    fail: (message: string): never => exitUsage(spec.name, message),
  };
}
