import { resolve, relative, isAbsolute, sep } from 'node:path';
import { InputError } from '../../errors';
import { extractLora } from '../../formats/lora/extractLora';
import { splitModelRef } from '../../formats/lora/modelRef';
import { nodeFolderTarget } from '../../node/fileTargets';
import { openCheckpointRef } from '../../node/openCheckpointRef';
import type { NodeCheckpoint } from '../../node/openCheckpointPath';
import { parseArgs, UsageError, type Command } from '../io';

export const extractLoraCommand: Command = {
  name: 'extract-lora',
  summary: "a rank-r PEFT LoRA adapter from a model's (or a soup's) difference to its base, by truncated SVD per tensor",
  usage: [
    'souplab extract-lora <model | base+adapter> --base <base model> --rank R --out <adapter folder> [--quiet]',
    '',
    "Writes adapter_config.json and adapter_model.safetensors (PEFT's layout, lora_alpha = r) into --out: each",
    "changed 2-D weight as lora_A [r, in] and lora_B [out, r] from its difference's r largest singular values;",
    'changed embeddings, norms and biases as full tensors (modules_to_save). Prints the energy each tensor keeps',
    '(the share of the difference\'s squared Frobenius norm). The result merges back as `base+<out>`.',
    '  --base   the base model the adapter is for',
    '  --rank   the LoRA rank r (a whole number ≥ 1)',
    '  --out    the adapter folder to write (all or nothing)',
  ].join('\n'),
  async run(args, io) {
    const { positionals, flags } = parseArgs(args, { booleans: ['quiet'], values: ['base', 'rank', 'out'] });
    if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'give the model (or soup) to extract an adapter from' : `expected one model, got ${positionals.length} arguments`);
    const baseArg = flags.get('base');
    const outArg = flags.get('out');
    const rankArg = flags.get('rank');
    if (typeof baseArg !== 'string' || baseArg === '') throw new UsageError('--base is required: the base model the adapter is for');
    if (typeof outArg !== 'string' || outArg === '') throw new UsageError('--out is required: the adapter folder to write');
    const rank = typeof rankArg === 'string' && /^\d+$/.test(rankArg.trim()) ? Number(rankArg) : NaN;
    if (!(rank >= 1)) throw new UsageError(`--rank must be a whole number of at least 1, got '${String(rankArg ?? '')}'`);
    const out = resolve(outArg);
    for (const ref of [positionals[0], baseArg]) {
      const split = splitModelRef(ref);
      if (typeof split === 'string') throw new UsageError(split);
      for (const part of [split.base, split.adapter]) {
        if (part === undefined) continue;
        const inside = (child: string, parent: string) => {
          const r = relative(parent, child);
          return r === '' || (!r.startsWith('..') && !isAbsolute(r) && r.split(sep)[0] !== '..');
        };
        if (inside(out, resolve(part)) || inside(resolve(part), out)) {
          throw new InputError(`--out ${outArg} would overwrite input ${part}; choose another folder`);
        }
      }
    }
    const opened: NodeCheckpoint[] = [];
    try {
      const base = await openCheckpointRef(baseArg);
      opened.push(base);
      const model = await openCheckpointRef(positionals[0]);
      opened.push(model);
      const result = await extractLora(base, model, nodeFolderTarget(out), { rank, baseModelName: baseArg, signal: io.signal });
      if (flags.get('quiet') !== true) {
        const lora = result.tensors.filter((t) => t.kind === 'lora');
        const full = result.tensors.filter((t) => t.kind === 'full');
        const lines = [`extracted a rank-${rank} LoRA adapter from ${positionals[0]} (base ${baseArg}) into ${outArg}`];
        lines.push(`  tensors   ${lora.length} as LoRA factors, ${full.length} whole (modules_to_save), ${result.tensors.length - lora.length - full.length} unchanged`);
        if (lora.length > 0) {
          const worst = lora.reduce((a, b) => (b.keptEnergy! < a.keptEnergy! ? b : a));
          lines.push(`  energy    kept ${percent(lora.reduce((s, t) => s + t.keptEnergy!, 0) / lora.length)} on average, least ${percent(worst.keptEnergy!)} (${worst.name})`);
        }
        for (const t of result.tensors) {
          if (t.kind === 'unchanged') continue;
          lines.push(`  ${t.name} [${t.shape.join(', ')}] ${t.kind === 'lora' ? `kept ${percent(t.keptEnergy!)}` : 'whole (modules_to_save)'}`);
        }
        io.stdout(`${lines.join('\n')}\n`);
      }
      return 0;
    } finally {
      await Promise.all(opened.map((c) => c.close().catch(() => undefined)));
    }
  },
};

function percent(x: number): string {
  return `${(100 * x).toFixed(x > 0.9999 && x < 1 ? 4 : 2)}%`;
}
