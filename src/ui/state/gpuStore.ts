import { create } from 'zustand';
import { describeAdapter, requestAdapter, type AdapterSummary } from '../../gpu/adapter';

type GpuState =
  | { status: 'probing' }
  | { status: 'ready'; adapter: AdapterSummary }
  | { status: 'unavailable'; reason: string };

interface GpuStore {
  gpu: GpuState;
  probe(): Promise<void>;
}

export const useGpuStore = create<GpuStore>((set) => ({
  gpu: { status: 'probing' },
  async probe() {
    try {
      const adapter = await requestAdapter(navigator.gpu);
      set({ gpu: { status: 'ready', adapter: describeAdapter(adapter) } });
    } catch (e) {
      set({ gpu: { status: 'unavailable', reason: (e as Error).message } });
    }
  },
}));
