/**
 * The task-arithmetic family as mergekit declares it (generalized_task_arithmetic.py): eight methods
 * that differ only by their defaults — sign consensus or not, which sparsification, and whether
 * normalize and rescale are on. One arithmetic, in taskArithmeticFamily.ts.
 */
import { taskArithmeticMethod } from './taskArithmeticFamily';

/** Task Arithmetic — mergekit's `task_arithmetic`. */
export const taskArithmetic = taskArithmeticMethod({
  name: 'task_arithmetic',
  title: 'Task Arithmetic',
  description: 'Adds the weighted task vectors (model − base) to the base, times lambda.',
  reference: { label: 'Ilharco et al. 2023, Editing Models with Task Arithmetic', url: 'https://arxiv.org/abs/2212.04089' },
  consensus: false,
  defaultNormalize: false,
  defaultRescale: false,
});

/** TIES — mergekit's `ties`. */
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

/** DARE TIES — mergekit's `dare_ties`. */
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

/** Linear DARE — mergekit's `dare_linear`. */
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

/** Model Breadcrumbs — mergekit's `breadcrumbs`. */
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

/** Model Breadcrumbs with TIES — mergekit's `breadcrumbs_ties`. */
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

/** DELLA — mergekit's `della`. */
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

/** Linear DELLA — mergekit's `della_linear`. */
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
