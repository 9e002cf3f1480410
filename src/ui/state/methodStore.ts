/**
 * The merge method chosen in the studio and its parameter fields (src/ui/merge/method/methodSetup.ts),
 * persisted in localStorage beside the soup's weights. Fields hold what was typed, errors included, so
 * that nothing a person wrote is lost; the checks run where the soup's status is computed.
 */
import { create } from 'zustand';
import { createJSONStorage, persist } from 'zustand/middleware';
import { findMethod } from '../../merge/methods/registry';
import { DEFAULT_SETUP, type MethodSetup } from '../merge/method/methodSetup';
import type { ParamInput } from '../merge/method/paramInput';

interface MethodState extends MethodSetup {
  /** Another method: its own fields start empty (defaults), the base stays chosen. */
  setMethod(method: string): void;
  setBase(base: string | null): void;
  /** A top-level parameter field; '' clears it (the default). */
  setParam(name: string, value: ParamInput): void;
  /** A per-model field of one ingredient; '' clears it. */
  setModelParam(ingredient: string, name: string, value: ParamInput): void;
  /** Everything at once: a recipe read in. */
  replace(setup: MethodSetup): void;
  /** Back to the models list (the cards' weights). */
  dropSlices(): void;
}

const without = <T>(map: Record<string, T>, key: string): Record<string, T> => {
  const next = { ...map };
  delete next[key];
  return next;
};

export const useMethodStore = create<MethodState>()(
  persist(
    (set) => ({
      ...DEFAULT_SETUP,
      setMethod: (method) => {
        if (!findMethod(method)) return;
        set((s) => (s.method === method ? s : { method, params: {}, modelParams: {}, slices: undefined }));
      },
      setBase: (base) => set({ base }),
      setParam: (name, value) => set((s) => ({ params: value === '' ? without(s.params, name) : { ...s.params, [name]: value } })),
      setModelParam: (ingredient, name, value) =>
        set((s) => {
          const own = value === '' ? without(s.modelParams[ingredient] ?? {}, name) : { ...(s.modelParams[ingredient] ?? {}), [name]: value };
          return { modelParams: Object.keys(own).length === 0 ? without(s.modelParams, ingredient) : { ...s.modelParams, [ingredient]: own } };
        }),
      replace: (setup) => set({ method: setup.method, base: setup.base, params: setup.params, modelParams: setup.modelParams, slices: setup.slices, order: setup.order }),
      dropSlices: () => set({ slices: undefined }),
    }),
    {
      name: 'souplab.method',
      storage: createJSONStorage(() => localStorage),
      partialize: (s) => ({ method: s.method, base: s.base, params: s.params, modelParams: s.modelParams, slices: s.slices, order: s.order }),
    },
  ),
);

