/**
 * `souplab search --config search.yaml`: a search's options kept in a YAML or JSON file, keyed by the
 * long option names (models, tasks, out, evaluator-cmd, jobs, launcher, …). The file becomes the same
 * flag map parseArgs makes, so the in-process search and the cluster search read it alike; options on
 * the command line win over the file. Paths in the file are relative to the file.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { InputError } from '../errors';
import { fsInputError } from '../node/fsErrors';
import { parseModelPaths } from './modelPaths';
import { parseArgs, UsageError } from './io';

/** Keys whose values are paths (relative to the config file); `plan` is one unless it names a plan kind. */
const PATH_KEYS = new Set(['out', 'work-dir', 'export', 'plan', 'tokenizer']);
const PLAN_KINDS = new Set(['grid', 'adaptive']);
/** The score tables (the command line's positionals), as a list or one path. */
const TABLES_KEY = 'score-tables';

type Flags = Map<string, string | true>;
interface FlagSpec {
  booleans: string[];
  values: string[];
}

/** The config file a search command line names (--config FILE or --config=FILE), if any. */
export function configPathOf(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--') break;
    if (args[i] === '--config') return args[i + 1];
    if (args[i].startsWith('--config=')) return args[i].slice('--config='.length);
  }
  return undefined;
}

/** True when the config file (if any) sets `key`: the search chooses its evaluator before parsing. */
export function configHasKey(args: string[], key: string): boolean {
  const file = configPathOf(args);
  return file !== undefined && Object.prototype.hasOwnProperty.call(readConfigObject(file), key);
}

/**
 * parseArgs with --config: the command line's flags over the file's. `known` lists every key a search
 * config may hold, so a key for the other kind of search is refused as not applying rather than unknown.
 */
export function parseSearchArgs(args: string[], spec: FlagSpec, known: FlagSpec, mode: string): { positionals: string[]; flags: Flags } {
  // An option of the other kind of search is named as such, not as unknown (as a config file's key is).
  const mine = new Set([...spec.booleans, ...spec.values]);
  const other = new Set([...known.booleans, ...known.values].filter((k) => !mine.has(k)));
  for (const arg of args) {
    const name = arg.startsWith('--') ? arg.slice(2).split('=')[0] : '';
    if (other.has(name)) throw new UsageError(`--${name} does not apply ${mode}`);
  }
  const { positionals, flags } = parseArgs(args, { booleans: spec.booleans, values: [...spec.values, 'config'] });
  const file = flags.get('config');
  if (file === undefined) return { positionals, flags };
  if (file === true) throw new InputError('--config needs a file');
  flags.delete('config');
  const fromFile = configFlags(file, spec, known, mode);
  return { positionals: positionals.length > 0 ? positionals : fromFile.positionals, flags: new Map([...fromFile.flags, ...flags]) };
}

/** A config file as the flags (and positionals) the command line would give. */
export function configFlags(file: string, spec: FlagSpec, known: FlagSpec, mode: string): { positionals: string[]; flags: Flags } {
  const raw = readConfigObject(file);
  const base = dirname(resolve(file));
  const at = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const booleans = new Set(spec.booleans);
  const values = new Set(spec.values);
  const knownKeys = new Set([...known.booleans, ...known.values, TABLES_KEY]);
  const flags: Flags = new Map();
  let positionals: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (!knownKeys.has(key)) throw new InputError(`${file}: unknown key "${key}" (a search config's keys are the search's long option names: models, tasks, out, plan, …)`);
    if (key !== TABLES_KEY && !booleans.has(key) && !values.has(key)) throw new InputError(`${file}: "${key}" does not apply ${mode}`);
    const wrong = (expected: string) => new InputError(`${file}: "${key}" should be ${expected}, got ${describe(value)}`);
    if (booleans.has(key)) {
      if (typeof value !== 'boolean') throw wrong('true or false');
      if (value) flags.set(key, true);
    } else if (key === 'models') {
      const pairs = modelPairs(value, () => wrong('a map of name: path, or the text "name=path;…"'));
      flags.set(key, pairs.map((p) => `${p.name}=${p.path.split('+').map((part) => at(part.trim())).join('+')}`).join(';'));
    } else if (key === 'tasks' || key === TABLES_KEY) {
      const list = textList(value, () => wrong('a list of paths, or one text'));
      if (key === 'tasks') flags.set(key, list.map(at).join(','));
      else positionals = list.map(at);
    } else if (key === 'slurm-args') {
      // A list keeps each argument whole; splitArgs reads single quotes.
      const list = typeof value === 'string' ? [value] : textList(value, () => wrong('text or a list of texts'));
      flags.set(key, typeof value === 'string' ? value : list.map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' '));
    } else {
      if (typeof value !== 'string' && !(typeof value === 'number' && Number.isFinite(value))) throw wrong('text or a number');
      const text = String(value);
      flags.set(key, PATH_KEYS.has(key) && !(key === 'plan' && PLAN_KINDS.has(text)) ? at(text) : text);
    }
  }
  return { positionals, flags };
}

function readConfigObject(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw fsInputError(file, e, 'cannot read');
  }
  let value: unknown;
  try {
    // JSON is YAML: one parser reads both.
    value = parseYaml(text);
  } catch (e) {
    throw new InputError(`${file}: not valid YAML or JSON (${(e as Error).message.split('\n')[0]})`);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new InputError(`${file}: a search config is a map of option names to values, got ${describe(value)}`);
  return value as Record<string, unknown>;
}

function modelPairs(value: unknown, wrong: () => InputError): { name: string; path: string }[] {
  if (typeof value === 'string') return parseModelPaths(value);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw wrong();
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.some(([, p]) => typeof p !== 'string' || p.trim() === '')) throw wrong();
  return entries.map(([name, path]) => ({ name, path: path as string }));
}

function textList(value: unknown, wrong: () => InputError): string[] {
  if (typeof value === 'string') return value.split(',').map((s) => s.trim()).filter(Boolean);
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw wrong();
  return value as string[];
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'nothing';
  if (typeof value === 'object') return 'a map';
  return `${typeof value === 'string' ? 'the text' : typeof value} ${JSON.stringify(value)}`;
}
