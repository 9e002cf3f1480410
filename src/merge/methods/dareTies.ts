/** DARE TIES — mergekit's `dare_ties` (generalized_task_arithmetic.py): see taskArithmeticFamily.ts for the arithmetic. */
import { taskArithmeticMethod } from './taskArithmeticFamily';

export const dareTies = taskArithmeticMethod({
  name: 'dare_ties',
  title: 'DARE TIES',
  description: 'Drops each delta element at random (keeps density), rescales what is left, then merges with TIES sign consensus.',
  reference: { label: 'Yu et al. 2024, Language Models are Super Mario (DARE)', url: 'https://arxiv.org/abs/2311.03099' },
  consensus: true,
  sparsification: 'random',
  defaultNormalize: false,
  defaultRescale: true,
});
