import { create } from 'zustand';
import { createJSONStorage, persist } from 'zustand/middleware';

/** Experts the Scores view proposed ("Use these experts"): model names from the score table, with weights. */
export interface ProposedExperts {
  experts: string[];
  weights: number[];
  note: string;
  at: number;
}

interface SoupStore {
  /** Weight per ingredient id. */
  weights: Record<string, number>;
  normalise: boolean;
  proposal: ProposedExperts | null;
  /** Called by the Scores view: the Ingredients view matches these names to the checkpoints. */
  proposeExperts(experts: string[], weights: number[], note: string): void;
  setWeight(id: string, weight: number): void;
  setNormalise(normalise: boolean): void;
}

export const useSoupStore = create<SoupStore>()(
  persist(
    (set) => ({
      weights: {},
      normalise: true,
      proposal: null,
      proposeExperts(experts, weights, note) {
        if (experts.length !== weights.length) {
          throw new Error(`proposeExperts: ${experts.length} experts but ${weights.length} weights`);
        }
        set({ proposal: { experts: [...experts], weights: [...weights], note, at: Date.now() } });
      },
      setWeight: (id, weight) => set((s) => ({ weights: { ...s.weights, [id]: weight } })),
      setNormalise: (normalise) => set({ normalise }),
    }),
    { name: 'souplab.soup', storage: createJSONStorage(() => localStorage) },
  ),
);
