/** TIES — mergekit's `ties` (generalized_task_arithmetic.py): see taskArithmeticFamily.ts for the arithmetic. */
import { taskArithmeticMethod } from './taskArithmeticFamily';

export const ties = taskArithmeticMethod({
  name: 'ties',
  title: 'TIES',
  description: 'Keeps the largest-magnitude part (density) of each task vector, elects a sign per parameter and averages the deltas that agree with it.',
  reference: { label: 'Yadav et al. 2023, TIES-Merging', url: 'https://arxiv.org/abs/2306.01708' },
  consensus: true,
  sparsification: 'magnitude',
  defaultNormalize: true,
  defaultRescale: false,
});
