/**
 * Every merge method SoupLab runs, declared once (as mergekit's merge_methods/registry.py does). The
 * recipe parser, validator and writer, the plan, the studio's method picker and parameter editors, the
 * CLI's help and the methods table in docs/merge-methods.md read this list; adding a method is adding its file (a
 * variant of a family: its declaration in the family's file, as taskArithmeticMethods.ts) and one line here.
 */
import { InputError } from '../../errors';
import { arceeFusion } from './arceeFusion';
import { karcher } from './karcher';
import { linear } from './linear';
import { modelStock } from './modelStock';
import { multislerp } from './multislerp';
import { nearswap } from './nearswap';
import { nuslerp } from './nuslerp';
import { passthrough } from './passthrough';
import { ram } from './ram';
import { ramplusTl } from './ramplusTl';
import { sce } from './sce';
import { slerp } from './slerp';
import { breadcrumbs, breadcrumbsTies, dareLinear, dareTies, della, dellaLinear, taskArithmetic, ties } from './taskArithmeticMethods';
import type { MergeMethod, ParameterSpec } from './types';

export const MERGE_METHODS: readonly MergeMethod[] = [
  linear,
  taskArithmetic,
  ties,
  dareTies,
  dareLinear,
  breadcrumbs,
  breadcrumbsTies,
  della,
  dellaLinear,
  sce,
  slerp,
  nuslerp,
  multislerp,
  karcher,
  modelStock,
  nearswap,
  arceeFusion,
  ram,
  ramplusTl,
  passthrough,
];

const BY_NAME = new Map(MERGE_METHODS.map((m) => [m.name, m]));

/** mergekit methods SoupLab does not run, with why (none today: every method of mergekit a6e4028 runs). */
export const UNSUPPORTED_METHODS: Readonly<Record<string, string>> = {};

export const METHOD_NAMES: readonly string[] = MERGE_METHODS.map((m) => m.name);

export function findMethod(name: string): MergeMethod | undefined {
  return BY_NAME.get(name);
}

export function getMethod(name: string): MergeMethod {
  const m = BY_NAME.get(name);
  if (!m) throw new InputError(`unknown merge method '${name}' (SoupLab runs ${METHOD_NAMES.join(', ')})`);
  return m;
}

export function parameterOf(method: MergeMethod, name: string): ParameterSpec | undefined {
  return method.parameters.find((p) => p.name === name);
}

/** Every parameter name some method reads, with its kind (for parsing values before the method is known). */
export const ALL_PARAMETERS: ReadonlyMap<string, ParameterSpec> = new Map(MERGE_METHODS.flatMap((m) => m.parameters.map((p) => [p.name, p] as const)));
