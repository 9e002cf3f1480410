/** safetensors dtypes, with their width in bits (sub-byte formats pack several elements per byte). */
export const DTYPE_BITS = {
  BOOL: 8,
  U8: 8,
  I8: 8,
  U16: 16,
  I16: 16,
  F16: 16,
  BF16: 16,
  U32: 32,
  I32: 32,
  F32: 32,
  U64: 64,
  I64: 64,
  F64: 64,
  F8_E4M3: 8,
  F8_E5M2: 8,
  F8_E8M0: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  C64: 64,
} as const;

export type Dtype = keyof typeof DTYPE_BITS;

/** Floating-point dtypes SoupLab decodes to f32 and averages. Everything else is carried as raw bytes. */
export const FLOAT_DTYPES = ['F64', 'F32', 'F16', 'BF16'] as const;
export type FloatDtype = (typeof FLOAT_DTYPES)[number];

export function isDtype(s: string): s is Dtype {
  return Object.prototype.hasOwnProperty.call(DTYPE_BITS, s);
}

export function isFloatDtype(d: Dtype): d is FloatDtype {
  return (FLOAT_DTYPES as readonly string[]).includes(d);
}

/** Names people and mergekit use for dtypes (float32, bf16, …) → the safetensors name. */
export function parseFloatDtypeName(name: string): FloatDtype | undefined {
  const table: Record<string, FloatDtype> = {
    float64: 'F64', fp64: 'F64', f64: 'F64', double: 'F64',
    float32: 'F32', fp32: 'F32', f32: 'F32', float: 'F32',
    float16: 'F16', fp16: 'F16', f16: 'F16', half: 'F16',
    bfloat16: 'BF16', bf16: 'BF16',
  };
  return table[name.trim().toLowerCase()];
}

/** Bytes taken by `numel` elements of `dtype`, or undefined when that is not a whole number of bytes. */
export function byteLengthOf(dtype: Dtype, numel: number): number | undefined {
  const bits = numel * DTYPE_BITS[dtype];
  return bits % 8 === 0 ? bits / 8 : undefined;
}

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
