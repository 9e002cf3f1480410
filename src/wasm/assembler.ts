/**
 * A minimal WebAssembly assembler: the encodings of the few instructions SoupLab's hand-written SIMD
 * kernels use, and a module builder. Kernels are generated as byte arrays at run time, so that neither
 * a toolchain nor a binary file is needed (the merge's soup kernel, the CPU model's matmuls).
 */

export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

export const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
export const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => vec([...new TextEncoder().encode(s)].map((b) => [b]));

export const get = (i: number) => [0x20, ...uleb(i)];
export const set = (i: number) => [0x21, ...uleb(i)];
export const tee = (i: number) => [0x22, ...uleb(i)];
export const i32c = (v: number) => [0x41, ...sleb(v | 0)];
export const simd = (op: number, ...imm: number[]) => [0xfd, ...uleb(op), ...imm];

/** v128.load / store with alignment hint 0 and a constant byte offset. */
export const load = (offset = 0) => simd(0x00, 0, ...uleb(offset));
export const store = (offset = 0) => simd(0x0b, 0, ...uleb(offset));
/** v128.load16x4_s / _u: four 16-bit values widened to i32 lanes. */
export const load16x4s = (offset = 0) => simd(0x03, 0, ...uleb(offset));
export const load16x4u = (offset = 0) => simd(0x04, 0, ...uleb(offset));
/** f32.store (alignment hint 2). */
export const f32Store = (offset = 0) => [0x38, 2, ...uleb(offset)];

export const i32x4Splat = simd(0x11);
export const f32x4Splat = simd(0x13);
export const f32x4ExtractLane = (lane: number) => simd(0x1f, lane);
export const i32x4Eq = simd(0x37);
export const i32x4GtU = simd(0x3c);
export const v128And = simd(0x4e);
export const v128Or = simd(0x50);
export const bitselect = simd(0x52);
export const narrowU = simd(0x86);
export const extendLowU = simd(0xa9);
export const extendHighU = simd(0xaa);
export const i32x4Shl = simd(0xab);
export const i32x4ShrU = simd(0xad);
export const i32x4Add = simd(0xae);
export const f32x4Add = simd(0xe4);
export const f32x4Sub = simd(0xe5);
export const f32x4Mul = simd(0xe6);
export const I32_ADD = [0x6a];
export const I32_SUB = [0x6b];
export const I32_MUL = [0x6c];
export const I32_SHL = [0x74];
export const I32_LT_U = [0x49];
export const I32_GE_U = [0x4f];
export const I32_EQZ = [0x45];
export const F32_ADD = [0x92];
/** `call` of the module's function number `index` (the order of assembleModule's functions). */
export const call = (index: number) => [0x10, ...uleb(index)];
/** `if` (no result) … `end`: runs `body` when the condition on the stack is non-zero. */
export const ifThen = (body: number[]): number[] => [0x04, 0x40, ...body, 0x0b];
export const RETURN = [0x0f];

/** `block { loop { body; br_if 0 (condition) } }` helpers: a loop that runs while `condition` leaves 1. */
export const doWhile = (body: number[], condition: number[]): number[] => [0x03, 0x40, ...body, ...condition, 0x0d, 0, 0x0b];

export interface WasmFunction {
  /** Parameter types (results: none). */
  params: number[];
  /** Local declarations: [count, type] pairs. */
  locals: [number, number][];
  body: number[];
}

/**
 * A module of `functions` (all exported by name) over a memory: its own (`pages` initial) or, with
 * `importMemory`, env.memory imported with the given limits (shared memories need a maximum).
 */
export function assembleModule(
  functions: Record<string, WasmFunction>,
  memory: { pages: number } | { importMemory: { initial: number; maximum: number; shared: boolean } },
): Uint8Array<ArrayBuffer> {
  const names = Object.keys(functions);
  const fns = names.map((k) => functions[k]);
  const typeKeys = [...new Set(fns.map((f) => f.params.join(',')))];
  const typeOf = (f: WasmFunction) => typeKeys.indexOf(f.params.join(','));
  const types = typeKeys.map((k) => [0x60, ...vec(k === '' ? [] : k.split(',').map((t) => [Number(t)])), 0]);
  const imported = 'importMemory' in memory ? memory.importMemory : null;
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...(imported ? section(2, vec([[...name('env'), ...name('memory'), 0x02, imported.shared ? 0x03 : 0x01, ...uleb(imported.initial), ...uleb(imported.maximum)]])) : []),
    ...section(3, vec(fns.map((f) => uleb(typeOf(f))))),
    ...(imported ? [] : section(5, vec([[0x00, ...uleb((memory as { pages: number }).pages)]]))),
    ...section(7, vec([
      ...names.map((n, k) => [...name(n), 0x00, ...uleb(k)]),
      ...(imported ? [] : [[...name('memory'), 0x02, 0]]),
    ])),
    ...section(10, vec(fns.map((f) => {
      const code = [...vec(f.locals.map(([count, type]) => [...uleb(count), type])), ...f.body, 0x0b];
      return [...uleb(code.length), ...code];
    }))),
  ];
  return new Uint8Array(bytes);
}
