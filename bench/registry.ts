import { ioBenchmark } from './io';
import { kernelsBenchmark } from './kernels';
import { analysisBenchmark } from './analysis';
import { mergeBenchmark } from './merge';
import { studioBenchmark } from './studio';
import { methodsBenchmark } from './methods';
import { modelBenchmark } from './model';
import { searchBenchmark } from './search';
import { loraBenchmark } from './lora';

export interface Benchmark {
  name: string;
  description: string;
  /** Prints its measurements; returns false when a target was missed. */
  run(): Promise<boolean>;
}

export const benchmarks: Benchmark[] = [ioBenchmark, kernelsBenchmark, analysisBenchmark, mergeBenchmark, studioBenchmark, methodsBenchmark, modelBenchmark, searchBenchmark, loraBenchmark];
