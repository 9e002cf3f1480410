/**
 * mulberry32: a small, fast, seeded PRNG. Everything generated from a seed (demo checkpoints, test and
 * benchmark data, later DARE's drop masks) is the same on every run and machine.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Uniform numbers in [0, 1) from a seed. */
export function seededUniform(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
}

/** Standard normal samples (Box–Muller) from a seed; uniforms in (0, 1) so log() stays finite. */
export function seededGaussian(seed: number): () => number {
  const next = mulberry32(seed);
  const uniform = () => (next() + 0.5) / 4294967296;
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}
