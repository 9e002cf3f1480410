/**
 * `souplab merge … --out soup.gguf`: the soup is merged into a hidden safetensors file beside the output,
 * then converted to GGUF with the base model's config and tokenizer, and the hidden file removed. The
 * output appears only when both steps succeed; an existing file at --out stays until then.
 */
import { randomBytes } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../../errors';
import { GGUF_TYPES, writeGguf, type GgufFileType, type GgufProgress, type GgufWriteResult } from '../../formats/gguf/writeGguf';
import { ggufTokenizerMetadata } from '../../formats/gguf/vocab';
import type { MergePlan } from '../../merge/plan';
import { readModelFiles, type ModelFiles } from '../../model/load';
import { checkpointWeightSource } from '../../model/weights';
import { nodeFileTarget } from '../../node/fileTargets';
import { openCheckpointPath } from '../../node/openCheckpointPath';
import { UsageError } from '../io';

export const isGgufPath = (path: string) => /\.gguf$/i.test(path);

export function parseGgufType(value: string | true | undefined, outIsGguf: boolean): GgufFileType | undefined {
  if (value === undefined) return undefined;
  if (!outIsGguf) throw new UsageError('--gguf-type applies to a .gguf output');
  const type = typeof value === 'string' ? value.toLowerCase() : '';
  if (!(GGUF_TYPES as readonly string[]).includes(type)) throw new UsageError(`--gguf-type must be one of ${GGUF_TYPES.join(', ')}, got '${String(value)}'`);
  return type as GgufFileType;
}

export interface GgufOutputPlan {
  files: ModelFiles & { tokenizerJson: Record<string, unknown> };
  type: GgufFileType;
  /** The hidden safetensors file the soup is merged into first. */
  soupPath: string;
}

/** Where the soup is merged before conversion: a hidden file beside the output (same disk, same folder rights). */
export function ggufSoupPath(outPath: string): string {
  return join(dirname(outPath), `.${basename(outPath)}.soup-${randomBytes(4).toString('hex')}.safetensors`);
}

/**
 * Before any merging: the base model must be one the runtime knows (config.json) with a tokenizer llama.cpp
 * can read, or the merge would run for nothing. Without --gguf-type the soup's own float type is kept.
 */
export async function planGgufOutput(plan: MergePlan, soupPath: string, type: GgufFileType | undefined): Promise<GgufOutputPlan> {
  const ref = plan.reference;
  const files = await readModelFiles(ref.label, ref.checkpoint.extraFiles);
  if (files.tokenizerJson === null) throw new InputError(`${ref.label}: no tokenizer.json beside the weights; a GGUF file needs the tokenizer`);
  const withTokenizer = { ...files, tokenizerJson: files.tokenizerJson };
  await ggufTokenizerMetadata({ name: ref.label, config: files.config, tokenizerJson: withTokenizer.tokenizerJson, tokenizerConfigJson: files.tokenizerConfigJson });
  const outDtypes = new Set(plan.steps.flatMap((s) => (s.kind === 'soup' ? [s.outDtype] : [])));
  const soupType: GgufFileType = outDtypes.size === 1 && outDtypes.has('F32') ? 'f32' : outDtypes.size === 1 && outDtypes.has('BF16') ? 'bf16' : 'f16';
  return { files: withTokenizer, type: type ?? soupType, soupPath };
}

/** Converts the merged soup to GGUF at `outPath` and removes the hidden soup file (also on failure). */
export async function convertSoupToGguf(
  g: GgufOutputPlan,
  outPath: string,
  options: { signal?: AbortSignal; onProgress?: (p: GgufProgress) => void },
): Promise<GgufWriteResult> {
  try {
    const soup = await openCheckpointPath(g.soupPath);
    try {
      return await writeGguf(
        { ...g.files, name: basename(outPath).replace(/\.gguf$/i, ''), weights: checkpointWeightSource(soup) },
        nodeFileTarget(outPath),
        { type: g.type, signal: options.signal, onProgress: options.onProgress },
      );
    } finally {
      await soup.close();
    }
  } finally {
    await removeSoupFile(g.soupPath);
  }
}

export async function removeSoupFile(soupPath: string): Promise<void> {
  await unlink(soupPath).catch(() => undefined);
}
