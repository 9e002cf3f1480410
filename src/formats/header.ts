import { InputError } from '../errors';
import { byteLengthOf, DTYPE_BITS, isDtype, numelOf } from './dtype';
import type { ByteSource, SafetensorsHeader, TensorInfo } from './types';

/** The safetensors limit on the JSON header (safetensors/src/tensor.rs MAX_HEADER_SIZE). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Keeps a message on one line even when a name from a file holds control characters. */
export function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f\u2028\u2029]/.test(s) ? JSON.stringify(s) : s;
}

/** A file that is not a valid safetensors file: "<file>: tensor <name>: <problem>", one line. */
export class SafetensorsError extends InputError {
  override name = 'SafetensorsError';
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly tensor?: string,
  ) {
    super(`${printable(file)}: ${tensor !== undefined ? `tensor ${printable(tensor)}: ` : ''}${problem}`);
  }
}

const fmt = (n: number) => n.toLocaleString('en-US');

/** Reads and validates the header of a safetensors file; reads only the first 8 + N bytes. */
export async function readHeader(source: ByteSource): Promise<SafetensorsHeader> {
  const { name, size } = source;
  if (size === 0) throw new SafetensorsError(name, 'the file is empty');
  if (size < 8) {
    throw new SafetensorsError(name, `the file has only ${size} bytes; a safetensors file starts with an 8-byte header length`);
  }
  const prefix = await source.read(0, 8);
  const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const low = view.getUint32(0, true);
  const high = view.getUint32(4, true);
  const headerLength = high * 2 ** 32 + low;
  if (headerLength > MAX_HEADER_BYTES) {
    throw new SafetensorsError(
      name,
      `header length ${high >= 2 ** 21 ? `${view.getBigUint64(0, true)}` : fmt(headerLength)} is over the ${fmt(MAX_HEADER_BYTES)}-byte limit (not a safetensors file?)`,
    );
  }
  if (8 + headerLength > size) {
    throw new SafetensorsError(
      name,
      `header length ${fmt(headerLength)} runs past the end of the file (${fmt(size)} bytes; truncated or not a safetensors file?)`,
    );
  }
  const headerJson = await source.read(8, headerLength);
  return parseHeaderBytes(name, headerJson, headerLength, size);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Validates a header as the reference implementation does: known dtypes, integer shapes, offsets that
 * tile the data buffer exactly (no holes, no overlap, nothing past the end), byte lengths that match the
 * shapes, a string→string `__metadata__`, no duplicate names.
 */
export function parseHeaderBytes(name: string, headerJson: Uint8Array, headerLength: number, fileSize: number): SafetensorsHeader {
  const fail = (problem: string, tensor?: string): never => {
    throw new SafetensorsError(name, problem, tensor);
  };
  // TextDecoder would drop a byte-order mark silently; the reference's JSON parser rejects it.
  if (headerJson[0] === 0xef && headerJson[1] === 0xbb && headerJson[2] === 0xbf) {
    fail('the header starts with a UTF-8 byte-order mark, which safetensors does not allow (saved by a text editor?)');
  }
  let text: string;
  try {
    text = utf8.decode(headerJson);
  } catch {
    return fail('the header is not valid UTF-8 (not a safetensors file?)');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    const detail = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return fail(`the header is not JSON (${detail})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return fail(`the header is JSON but not an object (it is ${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : `a ${typeof parsed}`})`);
  }
  const entries = parsed as Record<string, unknown>;
  const scan = scanHeaderText(text);
  if (scan.duplicate !== undefined) fail('appears more than once in the header', scan.duplicate);

  const dataStart = 8 + headerLength;
  const bufferLength = fileSize - dataStart;
  const metadata: Record<string, string> = {};
  const tensors: (TensorInfo & { begin: number; end: number })[] = [];

  for (const key of Object.keys(entries)) {
    const entry = entries[key];
    if (key === '__metadata__') {
      if (entry === null) continue;
      if (typeof entry !== 'object' || Array.isArray(entry)) fail(`__metadata__ must be an object of strings, not ${describe(entry)}`);
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__ value for "${printable(k)}" is ${describe(v)}, not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      fail(`entry is ${describe(entry)}, not an object with dtype, shape and data_offsets`, key);
    }
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    if (typeof dtype !== 'string') fail(`dtype is ${describe(dtype)}, not a string`, key);
    if (!isDtype(dtype as string)) {
      fail(`unknown dtype "${printable(String(dtype))}" (known: ${Object.keys(DTYPE_BITS).join(' ')})`, key);
    }
    if (!Array.isArray(shape)) fail(`shape is ${describe(shape)}, not a list of dimensions`, key);
    for (const d of shape as unknown[]) {
      if (typeof d !== 'number' || !Number.isInteger(d)) fail(`shape ${JSON.stringify(shape)} has a dimension that is not an integer: ${JSON.stringify(d)}`, key);
      if ((d as number) < 0) fail(`shape ${JSON.stringify(shape)} has a negative dimension ${d}`, key);
      if (!Number.isSafeInteger(d)) fail(`shape ${JSON.stringify(shape)} has a dimension too large to address: ${d}`, key);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2) fail(`data_offsets is ${describe(offsets)}, not [begin, end]`, key);
    const [begin, end] = offsets as unknown[];
    for (const o of [begin, end]) {
      if (typeof o !== 'number' || !Number.isInteger(o) || o < 0) {
        fail(`data_offsets ${JSON.stringify(offsets)} must be two non-negative integers`, key);
      }
      if (!Number.isSafeInteger(o)) fail(`data_offsets ${JSON.stringify(offsets)} are beyond 2^53 bytes`, key);
    }
    const b = begin as number;
    const e = end as number;
    if (e < b) fail(`data_offsets [${b}, ${e}] end before they begin`, key);
    const dims = shape as number[];
    const numel = numelOf(dims);
    const t = dtype as keyof typeof DTYPE_BITS;
    const expected = Number.isSafeInteger(numel) ? byteLengthOf(t, numel) : undefined;
    if (!Number.isSafeInteger(numel)) fail(`shape ${JSON.stringify(dims)} has more elements than can be addressed`, key);
    if (expected === undefined) fail(`${t} ${JSON.stringify(dims)} is ${numel} elements of ${DTYPE_BITS[t]} bits, not a whole number of bytes`, key);
    if (e - b !== expected) {
      fail(`data_offsets [${b}, ${e}] hold ${fmt(e - b)} bytes, but ${t} ${JSON.stringify(dims)} needs ${fmt(expected as number)}`, key);
    }
    if (e > bufferLength) {
      fail(`data_offsets [${b}, ${e}] run past the end of the file (the data buffer holds ${fmt(bufferLength)} bytes; truncated file?)`, key);
    }
    tensors.push({ name: key, dtype: t, shape: dims, byteOffset: dataStart + b, byteLength: e - b, begin: b, end: e });
  }

  // After the entries' own checks, which explain negative numbers and metadata that is not text.
  if (scan.nonInteger !== undefined) {
    fail(`shape and data_offsets must be written as plain integers (8, not 8.0, 8e0 or -0); found ${scan.nonInteger.token}`, scan.nonInteger.key);
  }

  // Empty tensors sort before a non-empty one at the same offset; the data must tile [0, bufferLength).
  tensors.sort((x, y) => x.begin - y.begin || x.end - y.end);
  let position = 0;
  let previous: string | undefined;
  for (const t of tensors) {
    if (t.begin < position) {
      fail(`data_offsets [${t.begin}, ${t.end}] overlap tensor ${printable(previous ?? '')}, which ends at ${position}`, t.name);
    }
    if (t.begin > position) {
      fail(
        `data_offsets [${t.begin}, ${t.end}] leave a hole of ${fmt(t.begin - position)} bytes ${previous === undefined ? 'at the start of the data buffer' : `after tensor ${printable(previous)}`}`,
        t.name,
      );
    }
    position = t.end;
    previous = t.name;
  }
  if (position !== bufferLength) {
    fail(
      `the data buffer has ${fmt(bufferLength - position)} bytes after the last tensor${previous ? ` (${printable(previous)} ends at ${fmt(position)})` : ''}; the file holds more than its header describes`,
    );
  }
  return {
    tensors: tensors.map(({ name: n, dtype, shape, byteOffset, byteLength }) => ({ name: n, dtype, shape, byteOffset, byteLength })),
    metadata,
    headerLength,
    dataStart,
  };
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `a list ${truncate(JSON.stringify(v))}`;
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${truncate(JSON.stringify(v))}`;
  if (v === undefined) return 'missing';
  return `the ${typeof v} ${truncate(JSON.stringify(v))}`;
}

function truncate(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}

/** JSON.parse keeps the last of duplicate keys silently: a top-level key that occurs twice. */
export function firstDuplicateTopLevelKey(json: string): string | undefined {
  return scanHeaderText(json).duplicate;
}

/**
 * What JSON.parse hides in the (already valid) header text: the first top-level key that occurs
 * twice, and the first number that is not a plain non-negative integer literal (`8.0`, `1e3`, `-0`
 * parse to integers in JavaScript, but the reference reads shapes and offsets as unsigned integers
 * and refuses them), with the top-level key it sits under. Linear in the header length.
 */
function scanHeaderText(json: string): { duplicate?: string; nonInteger?: { key: string; token: string } } {
  const seen = new Set<string>();
  let depth = 0;
  let expectKey = false;
  let currentKey = '';
  let nonInteger: { key: string; token: string } | undefined;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i;
      for (i++; i < json.length; i++) {
        const d = json.charCodeAt(i);
        if (d === 0x5c /* \ */) i++;
        else if (d === 0x22) break;
      }
      if (depth === 1 && expectKey) {
        const key = JSON.parse(json.slice(start, i + 1)) as string;
        if (seen.has(key)) return { duplicate: key, nonInteger };
        seen.add(key);
        currentKey = key;
        expectKey = false;
      }
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      while (j < json.length && /[0-9.eE+-]/.test(json[j])) j++;
      const token = json.slice(i, j);
      if (nonInteger === undefined && (/[.eE]/.test(token) || token === '-0')) nonInteger = { key: currentKey, token };
      i = j - 1;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth++;
      expectKey = depth === 1 && c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    } else if (c === 0x2c /* , */ && depth === 1) {
      expectKey = true;
    }
  }
  return { nonInteger };
}
