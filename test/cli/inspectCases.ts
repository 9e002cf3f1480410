import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rawSafetensors } from '../formats/helpers';

const t = (dtype: string, shape: unknown[], offsets: unknown[]) => ({ dtype, shape, data_offsets: offsets });

/** Every bad input issue 2 lists, as files on disk, with what the one-line message must say. */
export const badInputs: { file: string; bytes: Uint8Array; message: RegExp }[] = [
  { file: 'empty.safetensors', bytes: new Uint8Array(0), message: /the file is empty/ },
  { file: 'short.safetensors', bytes: new Uint8Array(7), message: /only 7 bytes/ },
  { file: 'past-end.safetensors', bytes: rawSafetensors('{}', 0, { headerLength: 1000n }), message: /header length 1,000 runs past the end of the file/ },
  { file: 'huge-header.safetensors', bytes: rawSafetensors('{}', 0, { headerLength: 200_000_000n }), message: /over the 100,000,000-byte limit/ },
  { file: 'not-json.safetensors', bytes: rawSafetensors('{"a": '), message: /the header is not JSON/ },
  { file: 'not-object.safetensors', bytes: rawSafetensors('["a"]'), message: /the header is JSON but not an object/ },
  { file: 'dtype.safetensors', bytes: rawSafetensors({ w: t('Q8', [2], [0, 2]) }, 2), message: /tensor w: unknown dtype "Q8"/ },
  { file: 'negative.safetensors', bytes: rawSafetensors({ w: t('F32', [-2], [0, 0]) }), message: /tensor w: shape \[-2\] has a negative dimension/ },
  { file: 'fraction.safetensors', bytes: rawSafetensors({ w: t('F32', [1.5], [0, 4]) }, 4), message: /tensor w: .* not an integer: 1.5/ },
  { file: 'offsets.safetensors', bytes: rawSafetensors({ w: t('U8', [2], [0, '2']) }, 2), message: /tensor w: data_offsets .* must be two non-negative integers/ },
  { file: 'overlap.safetensors', bytes: rawSafetensors({ a: t('U8', [2], [0, 2]), b: t('U8', [2], [1, 3]) }, 3), message: /tensor b: .* overlap tensor a/ },
  { file: 'hole.safetensors', bytes: rawSafetensors({ a: t('U8', [2], [0, 2]), b: t('U8', [2], [3, 5]) }, 5), message: /tensor b: .* leave a hole of 1 bytes after tensor a/ },
  { file: 'past-data.safetensors', bytes: rawSafetensors({ a: t('U8', [4], [0, 4]) }, 2), message: /tensor a: .* run past the end of the file/ },
  { file: 'shape.safetensors', bytes: rawSafetensors({ a: t('F32', [2, 2], [0, 12]) }, 12), message: /tensor a: data_offsets \[0, 12\] hold 12 bytes, but F32 \[2,2\] needs 16/ },
  { file: 'metadata.safetensors', bytes: rawSafetensors({ __metadata__: { step: 1 } }), message: /__metadata__ value for "step" is the number 1, not a string/ },
];

/** A sharded folder whose index names a shard that is not there. */
export async function writeMissingShardFolder(root: string): Promise<string> {
  const dir = join(root, 'missing-shard');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'model-00001-of-00002.safetensors'), rawSafetensors({ a: t('U8', [1], [0, 1]) }, 1));
  await writeFile(
    join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: {}, weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' } }),
  );
  return dir;
}

export async function writeBadInputs(root: string): Promise<void> {
  for (const b of badInputs) await writeFile(join(root, b.file), b.bytes);
}
