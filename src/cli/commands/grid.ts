import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { gridRecipes, weightGrid, type Ingredient } from '../../analysis';
import { matchName } from '../../analysis/names';
import { selectionNote } from '../../analysis/report';
import { InputError, isSoupLabError, throwIfAborted } from '../../errors';
import { fsInputError } from '../../node/fsErrors';
import { parseArgs, UsageError, type CliIO, type Command } from '../io';
import { ANALYSIS_BOOLEAN_FLAGS, ANALYSIS_OPTIONS_HELP, ANALYSIS_VALUE_FLAGS, analyzeOptionsFrom, runAnalysis } from '../analysisOptions';
import { parseModelPaths } from '../modelPaths';

/**
 * Writes the files into `out` all-or-nothing: into a temporary folder beside it, renamed into place
 * when complete. An existing non-empty `out` is replaced only with `force` (and then only at the end).
 */
export function writeFolderAtomically(out: string, files: { name: string; text: string }[], force: boolean, signal?: AbortSignal): void {
  const target = resolve(out);
  let exists = false;
  try {
    const st = statSync(target);
    if (!st.isDirectory()) throw new InputError(`${out}: exists and is not a folder`);
    exists = true;
  } catch (e) {
    if (e instanceof InputError) throw e;
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fsInputError(out, e);
  }
  const nonEmpty = exists && readdirSync(target).length > 0;
  if (nonEmpty && !force) throw new InputError(`${out}: the folder exists and is not empty; choose another --out or pass --force to replace it`);
  const parent = dirname(target);
  if (!existsSync(parent)) throw new InputError(`${out}: the folder ${parent} does not exist`);
  const tmp = join(parent, `.${basename(target)}.souplab-tmp-${process.pid}`);
  try {
    mkdirSync(tmp);
    for (const f of files) {
      throwIfAborted(signal);
      writeFileSync(join(tmp, f.name), f.text);
    }
    throwIfAborted(signal);
    if (exists) {
      const old = join(parent, `.${basename(target)}.souplab-old-${process.pid}`);
      renameSync(target, old);
      try {
        renameSync(tmp, target);
      } catch (e) {
        renameSync(old, target);
        throw e;
      }
      rmSync(old, { recursive: true, force: true });
    } else renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (isSoupLabError(e)) throw e;
    throw fsInputError(out, e, 'cannot write');
  }
}

export const gridCommand: Command = {
  name: 'grid',
  summary: 'write the SoCE weight grid as mergekit linear recipes (a folder of YAML + index.csv)',
  usage: `souplab grid [<table…>] --models "name=path;name=path…" --out <folder> [options]

With score tables, runs the analysis (as souplab analyze) and writes one mergekit linear recipe per
point of the weight grid over the expert set; every expert needs a checkpoint path in --models.
Candidates default to the models given in --models (you can only soup checkpoints you have).
Without tables, the grid is over the --models themselves, in the order given.
The folder gets soup-001.yaml… and index.csv (recipe, kind, one "weight: <model>" column per
expert); add score columns to index.csv to make it a trials table.

  --models "a=/ckpt/a;b=/ckpt/b"  checkpoint path (or hub id) per model
  --out <folder>        where to write (refuses a non-empty folder unless --force)
  --force               replace an existing folder (only once every file is written)
  --dtype bfloat16      mergekit dtype (float32, float16, bfloat16); omitted by default
  --out-dtype bfloat16  mergekit out_dtype; omitted by default
  --json                print the written recipes' list as JSON
${ANALYSIS_OPTIONS_HELP}`,
  async run(args, io: CliIO) {
    const { positionals, flags } = parseArgs(args, {
      booleans: [...ANALYSIS_BOOLEAN_FLAGS, 'force', 'json'],
      values: [...ANALYSIS_VALUE_FLAGS, 'models', 'out', 'dtype', 'out-dtype'],
    });
    const modelsFlag = flags.get('models');
    const out = flags.get('out');
    if (typeof modelsFlag !== 'string') throw new UsageError('--models "name=path;…" is required: the checkpoints to soup');
    if (typeof out !== 'string') throw new UsageError('--out <folder> is required');
    const paths = parseModelPaths(modelsFlag);

    let ingredients: Ingredient[];
    let grid;
    let note = '';
    if (positionals.length > 0) {
      const overrides = flags.has('candidates') ? {} : { candidates: paths.map((p) => p.name) };
      const { result } = runAnalysis(positionals, flags, overrides);
      if (result.expertSet.length === 0) throw new InputError(`the analysis selected no experts (${result.warnings.join('; ') || 'empty'})`);
      // Recipes the merge would refuse are not written; doubts are said and the recipes written.
      const { verdict, messages } = result.compatibility;
      if (verdict === 'refuse') throw new InputError(`${messages[0]}; choose candidates of one architecture and size (--candidates or --models)`);
      for (const m of messages) io.stderr(`souplab grid: warning: ${m}\n`);
      const missing: string[] = [];
      ingredients = result.expertSet.map((name) => {
        const hit = matchName(name, paths.map((p) => p.name));
        if (hit === undefined) {
          missing.push(name);
          return { name, checkpoint: '' };
        }
        return { name, checkpoint: paths.find((p) => p.name === hit)!.path };
      });
      if (missing.length > 0)
        throw new InputError(`no checkpoint path for expert${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')}: add "${missing[0]}=/path/to/checkpoint" to --models`);
      grid = result.grid;
      note = ` (${selectionNote(result)})`;
    } else {
      ingredients = paths.map((p) => ({ name: p.name, checkpoint: p.path }));
      grid = weightGrid(ingredients.length, { step: analyzeOptionsFrom(flags).step });
    }
    const get = (k: string): string | undefined => (typeof flags.get(k) === 'string' ? (flags.get(k) as string) : undefined);
    const batch = gridRecipes(ingredients, grid, { dtype: get('dtype'), outDtype: get('out-dtype') });
    const files = [...batch.files.map((f) => ({ name: f.file, text: f.yaml })), { name: 'index.csv', text: batch.indexCsv }];
    writeFolderAtomically(out, files, flags.get('force') === true, io.signal);
    if (flags.get('json') === true) {
      io.stdout(
        JSON.stringify(
          { out, experts: ingredients, step: grid.step, recipes: batch.files.map((f) => ({ file: f.file, weights: f.weights, uniform: f.uniform })) },
          null,
          2,
        ) + '\n',
      );
    } else {
      io.stdout(`experts${note}: ${ingredients.map((i) => `${i.name} = ${i.checkpoint}`).join('; ')}\n`);
      io.stdout(`wrote ${batch.files.length} recipes and index.csv to ${out}\n`);
    }
    return 0;
  },
};
