import { create } from 'zustand';
import { persist } from 'zustand/middleware';

export const VIEWS = ['scores', 'ingredients', 'taste', 'search', 'merge', 'trials'] as const;
export type ViewName = (typeof VIEWS)[number];

export const VIEW_LABELS: Record<ViewName, string> = {
  scores: 'Scores',
  ingredients: 'Ingredients',
  taste: 'Taste',
  search: 'Search',
  merge: 'Merge & export',
  trials: 'Trials',
};

interface NavigationStore {
  view: ViewName;
  show(view: ViewName): void;
}

export const useNavigationStore = create<NavigationStore>()(
  persist((set) => ({ view: 'scores', show: (view) => set({ view }) }), { name: 'souplab.view' }),
);
