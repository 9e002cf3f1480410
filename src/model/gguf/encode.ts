/**
 * GGUF v3 binary encoding (ggml's gguf.h / gguf-py's GGUFWriter): little-endian; strings are a u64 byte
 * length then UTF-8; metadata is key, u32 value type, value; tensor infos are name, n_dims, dims
 * (innermost first, i.e. the reversed PyTorch shape), ggml type, offset in the aligned data section.
 */

export const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
export const GGUF_VERSION = 3;
export const GGUF_ALIGNMENT = 32;

/** GGUF metadata value types. */
const ValueType = { UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9 } as const;

export type GgufValue =
  | { type: 'u32'; value: number }
  | { type: 'f32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'string[]'; value: readonly string[] }
  | { type: 'i32[]'; value: ArrayLike<number> }
  | { type: 'f32[]'; value: ArrayLike<number> };

export type GgufMetadata = [key: string, value: GgufValue][];

/** ggml tensor types SoupLab writes. */
export const GGML_TYPE = { F32: 0, F16: 1, Q8_0: 8, BF16: 30 } as const;
export type GgmlType = keyof typeof GGML_TYPE;

export interface GgufTensorInfo {
  name: string;
  /** PyTorch order (outermost first), as Hugging Face writes it. */
  shape: number[];
  type: GgmlType;
  byteLength: number;
}

/** A growable little-endian byte buffer. */
class ByteBuilder {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private static readonly utf8 = new TextEncoder();

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** Reserves `width` bytes at the end and lets `write` fill them (little-endian, through the view). */
  private put(width: number, write: (view: DataView, at: number) => void): void {
    this.reserve(width);
    write(this.view, this.length);
    this.length += width;
  }

  u32(v: number): void {
    this.put(4, (view, at) => view.setUint32(at, v, true));
  }

  i32(v: number): void {
    this.put(4, (view, at) => view.setInt32(at, v, true));
  }

  u64(v: number): void {
    this.put(8, (view, at) => view.setBigUint64(at, BigInt(v), true));
  }

  f32(v: number): void {
    this.put(4, (view, at) => view.setFloat32(at, v, true));
  }

  u8(v: number): void {
    this.reserve(1);
    this.buf[this.length++] = v;
  }

  string(s: string): void {
    const bytes = ByteBuilder.utf8.encode(s);
    this.u64(bytes.length);
    this.reserve(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }

  padTo(alignment: number): void {
    const pad = (alignment - (this.length % alignment)) % alignment;
    this.reserve(pad);
    this.buf.fill(0, this.length, this.length + pad);
    this.length += pad;
  }

  bytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function writeValue(b: ByteBuilder, v: GgufValue): void {
  switch (v.type) {
    case 'u32':
      b.u32(ValueType.UINT32);
      b.u32(v.value);
      return;
    case 'f32':
      b.u32(ValueType.FLOAT32);
      b.f32(v.value);
      return;
    case 'bool':
      b.u32(ValueType.BOOL);
      b.u8(v.value ? 1 : 0);
      return;
    case 'string':
      b.u32(ValueType.STRING);
      b.string(v.value);
      return;
    case 'string[]':
      b.u32(ValueType.ARRAY);
      b.u32(ValueType.STRING);
      b.u64(v.value.length);
      for (const s of v.value) b.string(s);
      return;
    case 'i32[]':
      b.u32(ValueType.ARRAY);
      b.u32(ValueType.INT32);
      b.u64(v.value.length);
      for (let i = 0; i < v.value.length; i++) b.i32(v.value[i]);
      return;
    case 'f32[]':
      b.u32(ValueType.ARRAY);
      b.u32(ValueType.FLOAT32);
      b.u64(v.value.length);
      for (let i = 0; i < v.value.length; i++) b.f32(v.value[i]);
      return;
  }
}

/** Padding after a tensor's data so the next one starts aligned. */
export function alignmentPadding(byteLength: number): number {
  return (GGUF_ALIGNMENT - (byteLength % GGUF_ALIGNMENT)) % GGUF_ALIGNMENT;
}

/**
 * The whole file up to the tensor data: magic, version, counts, metadata, tensor infos (offsets assigned
 * in order, each aligned), padded so the data section starts aligned.
 */
export function encodeGgufHeader(metadata: GgufMetadata, tensors: readonly GgufTensorInfo[]): Uint8Array {
  const b = new ByteBuilder();
  b.u32(GGUF_MAGIC);
  b.u32(GGUF_VERSION);
  b.u64(tensors.length);
  b.u64(metadata.length);
  for (const [key, value] of metadata) {
    b.string(key);
    writeValue(b, value);
  }
  let offset = 0;
  for (const t of tensors) {
    b.string(t.name);
    b.u32(t.shape.length);
    for (let i = t.shape.length - 1; i >= 0; i--) b.u64(t.shape[i]);
    b.u32(GGML_TYPE[t.type]);
    b.u64(offset);
    offset += t.byteLength + alignmentPadding(t.byteLength);
  }
  b.padTo(GGUF_ALIGNMENT);
  return b.bytes();
}
