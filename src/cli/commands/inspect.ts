import { numelOf } from '../../formats/dtype';
import type { Checkpoint } from '../../formats/checkpoint';
import { openCheckpointRef } from '../../node/openCheckpointRef';
import { VOCABULARY_METADATA_KEY, vocabularyLinesOf } from '../../merge/vocabulary/planWithVocabulary';
import { parseArgs, UsageError, type Command } from '../io';
import { formatBytes } from '../../util/bytes';
import { formatCount } from '../../util/count';

/** What `souplab inspect --json` prints. */
export interface InspectReport {
  name: string;
  sharded: boolean;
  files: { name: string; bytes: number; tensorCount: number }[];
  tensorCount: number;
  parameterCount: number;
  /** Sum of the tensors' bytes (what an index's total_size holds). */
  tensorBytes: number;
  /** Tensor bytes and counts per dtype. */
  dtypes: Record<string, { tensorCount: number; parameterCount: number; bytes: number }>;
  metadata: Record<string, string>;
  extraFiles: string[];
  tensors: { name: string; dtype: string; shape: number[]; file: string; bytes: number }[];
}

export function inspectReport(c: Checkpoint): InspectReport {
  const dtypes: InspectReport['dtypes'] = {};
  const tensors: InspectReport['tensors'] = [];
  let parameterCount = 0;
  let tensorBytes = 0;
  for (const { info, file } of c.tensors.values()) {
    tensorBytes += info.byteLength;
    const numel = numelOf(info.shape);
    parameterCount += numel;
    const d = (dtypes[info.dtype] ??= { tensorCount: 0, parameterCount: 0, bytes: 0 });
    d.tensorCount++;
    d.parameterCount += numel;
    d.bytes += info.byteLength;
    tensors.push({ name: info.name, dtype: info.dtype, shape: info.shape, file, bytes: info.byteLength });
  }
  return {
    name: c.name,
    sharded: c.sharded,
    files: c.files.map((f) => ({ name: f.name, bytes: f.source.size, tensorCount: f.header.tensors.length })),
    tensorCount: c.tensors.size,
    parameterCount,
    tensorBytes,
    dtypes,
    metadata: c.metadata,
    extraFiles: [...c.extraFiles.keys()],
    tensors,
  };
}

const group = (n: number) => n.toLocaleString('en-US');

export function formatInspect(r: InspectReport, listTensors: boolean): string {
  const lines = [r.name];
  const row = (label: string, value: string) => lines.push(`  ${label.padEnd(11)} ${value}`);
  row('tensors', group(r.tensorCount));
  row('parameters', `${group(r.parameterCount)}${r.parameterCount >= 1000 ? ` (${formatCount(r.parameterCount)})` : ''}`);
  const dtypeRows = Object.entries(r.dtypes).sort(([, a], [, b]) => b.bytes - a.bytes);
  dtypeRows.forEach(([dtype, d], i) => {
    row(i === 0 ? 'bytes' : '', `${dtype.padEnd(7)} ${formatBytes(d.bytes).padStart(9)}  ${group(d.tensorCount)} tensor${d.tensorCount === 1 ? '' : 's'}`);
  });
  if (dtypeRows.length === 0) row('bytes', '0 B');
  if (dtypeRows.length > 1) row('', `${'total'.padEnd(7)} ${formatBytes(r.tensorBytes).padStart(9)}`);
  if (r.sharded) {
    row('shards', `${r.files.length} (model.safetensors.index.json)`);
    for (const f of r.files) row('', `${f.name}  ${formatBytes(f.bytes)}  ${group(f.tensorCount)} tensors`);
  } else {
    row('file', `${r.files[0].name}  ${formatBytes(r.files[0].bytes)}`);
  }
  const vocabulary = vocabularyLinesOf(r.metadata);
  const meta = Object.entries(r.metadata).filter(([k]) => vocabulary.length === 0 || k !== VOCABULARY_METADATA_KEY);
  if (meta.length === 0) row('metadata', '(none)');
  meta.forEach(([k, v], i) => row(i === 0 ? 'metadata' : '', `${k} = ${JSON.stringify(v).slice(1, -1)}`));
  // A soup of models whose tokenizers differ: the tokens its vocabulary added and where from.
  vocabulary.forEach((line, i) => row(i === 0 ? 'vocabulary' : '', line));
  if (r.extraFiles.length > 0) row('other files', r.extraFiles.join(', '));
  if (listTensors) {
    lines.push('', 'tensors:');
    for (const t of r.tensors) lines.push(`  ${t.name}  ${t.dtype} ${JSON.stringify(t.shape)}${r.sharded ? `  (${t.file})` : ''}`);
  }
  return lines.join('\n') + '\n';
}

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'list a safetensors checkpoint: tensors, parameters, bytes by dtype, shards, metadata',
  usage: [
    'souplab inspect <file.safetensors | checkpoint folder | base+adapter> [--json] [--tensors]',
    '',
    'Reads only the headers (and model.safetensors.index.json) and checks them fully.',
    '  --json      print the same as JSON, with the tensor list (name, dtype, shape, file)',
    '  --tensors   list every tensor in the text output',
  ].join('\n'),
  async run(args, io) {
    const { positionals, flags } = parseArgs(args, { booleans: ['json', 'tensors'] });
    if (positionals.length !== 1) {
      throw new UsageError(positionals.length === 0 ? 'give a .safetensors file or a checkpoint folder' : `expected one path, got ${positionals.length}`);
    }
    // base+adapter: the base's headers with the adapted tensors as the merge sees them (F32).
    const checkpoint = await openCheckpointRef(positionals[0]);
    try {
      const report = inspectReport(checkpoint);
      io.stdout(flags.has('json') ? `${JSON.stringify(report, null, 2)}\n` : formatInspect(report, flags.has('tensors')));
      return 0;
    } finally {
      await checkpoint.close();
    }
  },
};
