/** Model Breadcrumbs with TIES — mergekit's `breadcrumbs_ties` (generalized_task_arithmetic.py): see taskArithmeticFamily.ts for the arithmetic. */
import { taskArithmeticMethod } from './taskArithmeticFamily';

export const breadcrumbsTies = taskArithmeticMethod({
  name: 'breadcrumbs_ties',
  title: 'Model Breadcrumbs with TIES',
  description: 'Breadcrumbs sparsification (small and outlier deltas dropped) followed by TIES sign consensus.',
  reference: { label: 'Davari & Belilovsky 2024, Model Breadcrumbs', url: 'https://arxiv.org/abs/2312.06795' },
  consensus: true,
  sparsification: 'magnitude_outliers',
  defaultNormalize: false,
  defaultRescale: false,
});
