/** Linear DELLA — mergekit's `della_linear` (generalized_task_arithmetic.py): see taskArithmeticFamily.ts for the arithmetic. */
import { taskArithmeticMethod } from './taskArithmeticFamily';

export const dellaLinear = taskArithmeticMethod({
  name: 'della_linear',
  title: 'Linear DELLA',
  description: "DELLA's magnitude-ranked random drop and rescale, then the weighted deltas added to the base.",
  reference: { label: 'Deep et al. 2024, DELLA-Merging', url: 'https://arxiv.org/abs/2406.11617' },
  consensus: false,
  sparsification: 'della_magprune',
  defaultNormalize: false,
  defaultRescale: true,
});
