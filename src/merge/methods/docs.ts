/**
 * The table of merge methods in docs/merge-methods.md, generated from the registry, its GPU column from
 * what each method's program runs on the GPU (gpuCoverage.ts); a test checks the page holds exactly this
 * text between its markers, so the docs cannot drift from the code.
 */
import { gpuCoverageSummary, methodGpuCoverage } from '../program/gpuCoverage';
import { MERGE_METHODS } from './registry';
import type { MergeMethod, ParameterSpec } from './types';

function parameterText(p: ParameterSpec): string {
  const where = p.level === 'model' ? 'per model' : p.level === 'recipe' ? 'recipe' : 'global';
  const value = p.default !== undefined ? ` = ${String(p.default)}` : p.required ? ' (required)' : '';
  return `\`${p.name}\`${value} (${where})`;
}

function baseText(m: MergeMethod): string {
  switch (m.needs.base) {
    case 'required':
      return 'required';
    case 'optional':
      return 'optional';
    case 'ignored':
      return m.name === 'linear' ? '—' : 'averaged with the models';
  }
}

function modelsText(m: MergeMethod): string {
  const { min, max } = m.needs.models;
  return max === undefined ? `≥ ${min}` : max === min ? `${min}` : `${min}–${max}`;
}

export const METHODS_TABLE_START = '<!-- methods table: generated from src/merge/methods/registry.ts by methodsMarkdown() -->';
/** The page that holds the table, from the repository's root. */
export const METHODS_TABLE_PAGE = 'docs/merge-methods.md';
export const METHODS_TABLE_END = '<!-- end of methods table -->';

/** The methods table in Markdown, with the markers around it. */
export function methodsMarkdown(): string {
  const rows = MERGE_METHODS.map((m) => {
    const stats = m.needs.statistics.length > 0 ? m.needs.statistics.join('; ') : 'none (element-wise)';
    return `| \`${m.name}\` | [${m.title}](${m.reference.url}) | ${baseText(m)} | ${modelsText(m)} | ${m.parameters.map(parameterText).join(', ')} | ${stats} | ${m.needs.memoryPerTensor} | ${gpuCoverageSummary(methodGpuCoverage(m))} |`;
  });
  return [
    METHODS_TABLE_START,
    '| method | what | base_model | models besides the base | parameters (default) | statistics before the element pass | memory per tensor | on the GPU (WebGPU backend) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    METHODS_TABLE_END,
  ].join('\n');
}
