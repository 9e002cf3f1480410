/** Model Breadcrumbs — mergekit's `breadcrumbs` (generalized_task_arithmetic.py): see taskArithmeticFamily.ts for the arithmetic. */
import { taskArithmeticMethod } from './taskArithmeticFamily';

export const breadcrumbs = taskArithmeticMethod({
  name: 'breadcrumbs',
  title: 'Model Breadcrumbs',
  description: 'Drops both the smallest deltas and the largest outliers (gamma) of each task vector, then adds the weighted rest to the base.',
  reference: { label: 'Davari & Belilovsky 2024, Model Breadcrumbs', url: 'https://arxiv.org/abs/2312.06795' },
  consensus: false,
  sparsification: 'magnitude_outliers',
  defaultNormalize: false,
  defaultRescale: false,
});
