/**
 * The architecture as the folders draw it (docs/architecture.md), kept so by this test: every import
 * under src/ — type-only and dynamic ones included, and the workers a module starts with
 * `new URL('./worker.ts', import.meta.url)` — runs down the layers below or stays in its own folder;
 * the engine folders use no Node API and no UI library; no module imports itself round a circle.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(new URL(import.meta.url).pathname), '..');
const SRC = join(ROOT, 'src');

/**
 * Each top-level folder of src/ (or module: errors.ts) and its layer. A module imports only from its
 * own folder or from lower layers; folders on one layer do not import each other.
 */
const LAYERS: Record<string, number> = {
  errors: 0,
  util: 0,
  wasm: 0, // a WebAssembly assembler for the hand-written SIMD kernels
  formats: 1, // safetensors, dtypes, sources and targets: bytes in and out
  analysis: 1, // score tables, correlations, clusters, experts, Shapley
  gpu: 1, // what every GPU user shares: adapter, device, pipelines, buffers, errors
  model: 2, // the forward pass (cpu/ and gpu/ twins), configs, tokenizers, GGUF export
  merge: 3, // recipes, plans, methods and their program machinery, cpu/ and gpu/ backends
  eval: 4, // tasks and scores on a model
  search: 5, // the SoCE loop: points, soups in memory, evidence
  node: 6, // Node's adapters (files, worker threads, Dawn)
  browser: 6, // the browser's adapters (IndexedDB, memory)
  cli: 7, // the souplab command
  ui: 7, // the studio
};
/** Folders whose code runs unchanged in Node, a web worker and a page. */
const ENGINE = ['errors', 'util', 'wasm', 'formats', 'analysis', 'gpu', 'model', 'merge', 'eval', 'search'];
const NODE_BUILTINS = new Set(['fs', 'path', 'os', 'url', 'child_process', 'worker_threads', 'crypto', 'stream', 'util', 'events', 'module', 'process', 'buffer']);
const UI_LIBRARIES = ['react', 'react-dom', 'zustand', 'recharts'];

/**
 * Circles that predate this test, each to be broken by moving the types they share into a module of
 * their own. The test fails when a new circle appears and when one of these is gone (then delete it here).
 */
const KNOWN_CIRCLES = ([] as string[][]).map((c) => c.join(' '));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

const files = sourceFiles(SRC).map((p) => relative(SRC, p));
const fileSet = new Set(files);

/** Every specifier a file imports: static, type-only, dynamic, re-exports, and workers it starts. */
function specifiers(file: string): string[] {
  const text = readFileSync(join(SRC, file), 'utf8');
  const info = ts.preProcessFile(text, true, true);
  const workers = [...text.matchAll(/new URL\(\s*['"]([^'"]+)['"]\s*,\s*import\.meta\.url/g)].map((m) => m[1]);
  return [...info.importedFiles.map((f) => f.fileName), ...workers];
}

/** The src/-relative file a relative specifier names, or null for a package or a non-source file. */
function resolveLocal(from: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  const base = normalize(join(dirname(from), spec.split('?')[0]));
  for (const c of [base, `${base}.ts`, `${base}.tsx`, join(base, 'index.ts')]) if (fileSet.has(c)) return c;
  return null;
}

const folderOf = (file: string): string => (file.includes('/') ? file.split('/')[0] : file.replace(/\.tsx?$/, ''));

const graph = new Map(files.map((f) => [f, specifiers(f)]));

describe('the architecture', () => {
  it('every folder of src/ has a layer', () => {
    expect([...new Set(files.map(folderOf))].filter((f) => !(f in LAYERS))).toEqual([]);
  });

  it('imports run down the layers or stay in their folder', () => {
    const upward: string[] = [];
    for (const [file, specs] of graph)
      for (const spec of specs) {
        const target = resolveLocal(file, spec);
        if (target === null) continue;
        const [a, b] = [folderOf(file), folderOf(target)];
        if (a !== b && LAYERS[b] >= LAYERS[a]) upward.push(`${file} imports ${target} (${a}, layer ${LAYERS[a]} → ${b}, layer ${LAYERS[b]})`);
      }
    expect(upward).toEqual([]);
  });

  it('the engine uses no Node API and no UI library', () => {
    const wrong: string[] = [];
    for (const [file, specs] of graph) {
      if (!ENGINE.includes(folderOf(file))) continue;
      for (const spec of specs) {
        const bare = spec.replace(/^node:/, '').split('/')[0];
        if (spec.startsWith('node:') || NODE_BUILTINS.has(bare) || UI_LIBRARIES.includes(bare)) wrong.push(`${file} imports ${spec}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('no module imports itself round a circle (beyond the known ones, to be broken)', () => {
    // Tarjan's strongly connected components over the file graph.
    const edges = new Map([...graph].map(([f, specs]) => [f, specs.map((s) => resolveLocal(f, s)).filter((t): t is string => t !== null)]));
    const index = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const circles: string[] = [];
    let next = 0;
    const visit = (v: string): void => {
      index.set(v, next);
      low.set(v, next++);
      stack.push(v);
      onStack.add(v);
      for (const w of edges.get(v) ?? []) {
        if (!index.has(w)) {
          visit(w);
          low.set(v, Math.min(low.get(v)!, low.get(w)!));
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
      if (low.get(v) === index.get(v)) {
        const component: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          component.push(w);
        } while (w !== v);
        if (component.length > 1 || (edges.get(v) ?? []).includes(v)) circles.push(component.sort().join(' '));
      }
    };
    for (const f of files) if (!index.has(f)) visit(f);
    expect(circles.sort()).toEqual([...KNOWN_CIRCLES].sort());
  });
});
