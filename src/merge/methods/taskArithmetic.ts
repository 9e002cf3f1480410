/** Task Arithmetic — mergekit's `task_arithmetic` (generalized_task_arithmetic.py): see taskArithmeticFamily.ts for the arithmetic. */
import { taskArithmeticMethod } from './taskArithmeticFamily';

export const taskArithmetic = taskArithmeticMethod({
  name: 'task_arithmetic',
  title: 'Task Arithmetic',
  description: 'Adds the weighted task vectors (model − base) to the base, times lambda.',
  reference: { label: 'Ilharco et al. 2023, Editing Models with Task Arithmetic', url: 'https://arxiv.org/abs/2212.04089' },
  consensus: false,
  defaultNormalize: false,
  defaultRescale: false,
});
