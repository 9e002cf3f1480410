/** DELLA — mergekit's `della` (generalized_task_arithmetic.py): see taskArithmeticFamily.ts for the arithmetic. */
import { taskArithmeticMethod } from './taskArithmeticFamily';

export const della = taskArithmeticMethod({
  name: 'della',
  title: 'DELLA',
  description: 'Drops delta elements at random with a probability that falls with their magnitude rank in the row (MagPrune), rescales, then merges with TIES sign consensus.',
  reference: { label: 'Deep et al. 2024, DELLA-Merging', url: 'https://arxiv.org/abs/2406.11617' },
  consensus: true,
  sparsification: 'della_magprune',
  defaultNormalize: true,
  defaultRescale: true,
});
