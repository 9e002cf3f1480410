/** The options of `souplab search`, in memory and with an external evaluator: parseArgs reads them, and so does --config. */
import { ANALYSIS_BOOLEAN_FLAGS, ANALYSIS_VALUE_FLAGS } from './analysisOptions';

const COMMON_VALUE_FLAGS = [...ANALYSIS_VALUE_FLAGS, 'models', 'plan', 'out', 'backend', 'metric', 'seed', 'tune-share', 'shapley', 'tokenizer-source', 'tokenizer'];

export const CLUSTER_VALUE_FLAGS = ['evaluator-cmd', 'work-dir', 'jobs', 'launcher', 'slurm-args', 'retries', 'souplab-cmd', 'poll-seconds'];
export const CLUSTER_BOOLEAN_FLAGS = ['merge-in-job', 'keep-soups'];

/** The in-memory search. */
export const SEARCH_FLAGS = {
  booleans: [...ANALYSIS_BOOLEAN_FLAGS, 'resume', 'stream', 'quiet', 'estimate'],
  values: [...COMMON_VALUE_FLAGS, 'tasks', 'max-length', 'export', 'export-trial', 'gpu-memory'],
};

/** The search with --evaluator-cmd (tasks are refused there with their own sentence, so they parse). */
export const CLUSTER_SEARCH_FLAGS = {
  booleans: [...ANALYSIS_BOOLEAN_FLAGS, ...CLUSTER_BOOLEAN_FLAGS, 'resume', 'quiet'],
  values: [...COMMON_VALUE_FLAGS, ...CLUSTER_VALUE_FLAGS, 'tasks'],
};

/** Every key a search config file may hold. */
export const ANY_SEARCH_FLAGS = {
  booleans: [...new Set([...SEARCH_FLAGS.booleans, ...CLUSTER_SEARCH_FLAGS.booleans])],
  values: [...new Set([...SEARCH_FLAGS.values, ...CLUSTER_SEARCH_FLAGS.values])],
};
