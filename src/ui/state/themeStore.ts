import { create } from 'zustand';
import { persist } from 'zustand/middleware';

export type ThemeChoice = 'system' | 'light' | 'dark';

interface ThemeStore {
  theme: ThemeChoice;
  setTheme(theme: ThemeChoice): void;
}

export const useThemeStore = create<ThemeStore>()(
  persist((set) => ({ theme: 'system', setTheme: (theme) => set({ theme }) }), { name: 'souplab.theme' }),
);
