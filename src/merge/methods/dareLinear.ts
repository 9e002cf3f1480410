/** Linear DARE — mergekit's `dare_linear` (generalized_task_arithmetic.py): see taskArithmeticFamily.ts for the arithmetic. */
import { taskArithmeticMethod } from './taskArithmeticFamily';

export const dareLinear = taskArithmeticMethod({
  name: 'dare_linear',
  title: 'Linear DARE',
  description: 'Drops each delta element at random (keeps density), rescales what is left, and adds the weighted deltas to the base.',
  reference: { label: 'Yu et al. 2024, Language Models are Super Mario (DARE)', url: 'https://arxiv.org/abs/2311.03099' },
  consensus: false,
  sparsification: 'random',
  defaultNormalize: false,
  defaultRescale: true,
});
