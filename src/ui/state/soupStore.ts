/**
 * The soup being prepared: its ingredients (opened checkpoints, headers only), one weight per
 * ingredient, the normalise switch, and the experts proposed by the Scores view. Weights and options
 * persist in localStorage; the ingredient list (with its FileSystemHandles) in IndexedDB.
 */
import { create } from 'zustand';
import { createJSONStorage, persist } from 'zustand/middleware';
import type { Collected } from '../ingredients/collect';
import { loadDemoInputs } from '../ingredients/demo';
import { findAdapterBase, isAdapterInput, messageOf, openInput, summarise } from '../ingredients/openIngredient';
import { InputError } from '../../errors';
import { importRecipe } from '../ingredients/recipeIO';
import { findMethod } from '../../merge/methods/registry';
import { useMethodStore } from './methodStore';
import { loadSession, permissionOf, reopenHandle, saveSession, savedFormOf, type SavedIngredient } from '../ingredients/session';
import { uniqueName } from '../ingredients/names';
import { roundWeight, uniformWeights } from '../ingredients/weights';
import type { Ingredient, IngredientInput } from '../ingredients/types';

export type { Collected };

/** Experts the Scores view proposed ("Use these experts"): model names from the score table, with weights. */
export interface ProposedExperts {
  experts: string[];
  weights: number[];
  note: string;
  at: number;
}

/** Names of the ingredients whose headers were read without error: the ones a soup can use. */
export function readyNames(ingredients: Ingredient[]): string[] {
  return ingredients.filter((g) => g.status === 'ready').map((g) => g.name);
}

export type OutDtypeChoice = 'auto' | 'BF16' | 'F16' | 'F32';
export type VocabularyChoice = 'rows' | 'base' | 'union';

export type Notice = { kind: 'info' | 'warning' | 'error'; text: string };

interface SoupState {
  ingredients: Ingredient[];
  /** Weight per ingredient name (persisted). New ingredients start at 1. */
  weights: Record<string, number>;
  normalise: boolean;
  /**
   * Weights set aside by a method without weights (its "In the merge" box unticked): given back when the
   * box is ticked again or a method with weights is chosen, so that what was typed is never lost.
   */
  held: Record<string, number>;
  /** Output dtype of merged tensors; 'auto': each tensor's first input's. */
  outDtype: OutDtypeChoice;
  /** The output vocabulary when tokenizers differ: 'rows' = no tokenizer_source (rows as they are). */
  vocabulary: VocabularyChoice;
  proposal: ProposedExperts | null;
  /** Expert → ingredient name chosen by hand ('' = none); overrides the name matching. */
  expertOverrides: Record<string, string>;
  notices: Notice[];
  /** Ingredients saved before a reload that wait for read permission ("Reconnect files"). */
  pendingReconnect: (SavedIngredient & { kind: 'handle' })[];
  /**
   * Ingredients of the last session that were given as plain files (a file input: what Firefox and
   * Safari use), which no browser keeps across a reload: they must be picked again. Their weights and
   * method settings stay (by name) for when they are; kept across reloads until picked or dismissed.
   */
  toPickAgain: string[];
  dismissToPickAgain(): void;
  demoNote: string | null;
  busy: boolean;

  /** Called by the Scores view: the Ingredients view matches these names to the checkpoints. */
  proposeExperts(experts: string[], weights: number[], note: string): void;
  dismissProposal(): void;
  setExpertOverride(expert: string, ingredient: string): void;
  /** Sets the weights of the matched ingredients to the proposal's, every other to 0. */
  applyExpertWeights(matches: (string | undefined)[]): void;

  addInputs(collected: Collected): Promise<void>;
  remove(id: string): void;
  clear(): void;
  loadDemo(): Promise<void>;
  /** Once per page: reopens the saved ingredients (demo on a first visit). */
  init(): Promise<void>;
  /** In a click: asks read permission for the saved handles again and reopens them. */
  reconnect(): Promise<void>;

  setWeight(name: string, weight: number): void;
  /** A method without weights: in or out of the merge, keeping the weight for the methods that use it. */
  setInMerge(name: string, inMerge: boolean): void;
  /** Gives the held weights back (a method with weights was chosen). */
  restoreHeld(): void;
  setWeights(weights: Record<string, number>): void;
  uniform(): void;
  setNormalise(normalise: boolean): void;
  setOutDtype(d: OutDtypeChoice): void;
  setVocabulary(v: VocabularyChoice): void;
  importRecipeText(text: string, fileName: string): void;
  dismissNotice(index: number): void;
}

let nextId = 1;
let initPromise: Promise<void> | undefined;
/** While the saved session is being reopened, the half-restored list is not saved over it. */
let restoring = false;

export const useSoupStore = create<SoupState>()(
  persist(
    (set, get) => {
      const persistList = () => {
        if (restoring) return;
        const list = get().ingredients.map((g) => savedFormOf(g.input, g.name));
        const pending = get().pendingReconnect;
        const lost = get().toPickAgain.map((name): SavedIngredient => ({ name, kind: 'lost' }));
        void saveSession([...list, ...pending, ...lost]).catch(() => undefined);
      };
      const notify = (n: Notice) => set((s) => ({ notices: [...s.notices.slice(-4), n] }));

      /**
       * Adds cards at once (status reading), then opens each header and updates its card. A restored
       * ingredient keeps its saved weight; a newly added one starts at 1.
       */
      const addOpened = async (inputs: IngredientInput[], restored = false) => {
        const taken = get().ingredients.map((g) => g.name);
        const added: Ingredient[] = inputs.map((input) => {
          const name = uniqueName(input.name, taken);
          taken.push(name);
          return { id: `ing-${nextId++}`, name, input: { ...input, name }, status: 'reading' };
        });
        // A checkpoint picked again after a reload is restored too: it keeps the weight it had.
        const again = added.filter((g) => get().toPickAgain.includes(g.name)).map((g) => g.name);
        const keeps = (name: string) => restored || again.includes(name);
        set((s) => ({
          ingredients: [...s.ingredients, ...added],
          weights: { ...s.weights, ...Object.fromEntries(added.filter((g) => !keeps(g.name) || s.weights[g.name] === undefined).map((g) => [g.name, 1])) },
          toPickAgain: s.toPickAgain.filter((n) => !again.includes(n)),
        }));
        persistList();
        const openOne = async (g: Ingredient) => {
          let next: Ingredient;
          try {
            let input = g.input;
            if (isAdapterInput(input)) {
              // A LoRA adapter is merged into the first loaded model it fits: the card then names that base.
              const loaded = get().ingredients.flatMap((x) => (x.status === 'ready' ? [{ input: x.input, checkpoint: x.checkpoint }] : []));
              const found = await findAdapterBase(input, loaded);
              if (!found.base) throw new InputError(found.why);
              input = { ...input, base: found.base };
            }
            const checkpoint = await openInput(input);
            next = { ...g, input, status: 'ready', checkpoint, summary: summarise(checkpoint) };
          } catch (e) {
            next = { ...g, status: 'error', error: messageOf(e) };
          }
          set((s) => ({ ingredients: s.ingredients.map((x) => (x.id === g.id ? next : x)) }));
        };
        // Models first, then adapters, so that an adapter dropped with its base finds it.
        await Promise.all(added.filter((g) => !isAdapterInput(g.input)).map(openOne));
        await Promise.all(added.filter((g) => isAdapterInput(g.input)).map(openOne));
      };

      const reopen = async (list: (SavedIngredient & { kind: 'handle' })[]) => {
        const inputs: IngredientInput[] = [];
        for (const saved of list) {
          try {
            const input = await reopenHandle(saved);
            if (input) inputs.push(input);
            else notify({ kind: 'warning', text: `${saved.name}: the saved folder holds no .safetensors file any more` });
          } catch (e) {
            notify({ kind: 'warning', text: `${saved.name}: could not be reopened (${messageOf(e)})` });
          }
        }
        await addOpened(inputs, true);
      };

      const loadDemo = async (restored: boolean) => {
        set({ busy: true });
        try {
          const { note, inputs } = await loadDemoInputs();
          const present = new Set(get().ingredients.filter((g) => g.input.demo).map((g) => g.name));
          set({ demoNote: note });
          await addOpened(inputs.filter((i) => !present.has(i.name)), restored);
        } catch (e) {
          notify({ kind: 'error', text: messageOf(e) });
        } finally {
          set({ busy: false });
        }
      };

      return {
        ingredients: [],
        weights: {},
        held: {},
        normalise: true,
        outDtype: 'auto',
        vocabulary: 'rows',
        proposal: null,
        expertOverrides: {},
        notices: [],
        pendingReconnect: [],
        toPickAgain: [],
        demoNote: null,
        busy: false,

        proposeExperts(experts, weights, note) {
          if (experts.length !== weights.length) {
            throw new Error(`proposeExperts: ${experts.length} experts but ${weights.length} weights`);
          }
          set({ proposal: { experts: [...experts], weights: [...weights], note, at: Date.now() }, expertOverrides: {} });
        },
        dismissProposal: () => set({ proposal: null, expertOverrides: {} }),
        setExpertOverride: (expert, ingredient) => set((s) => ({ expertOverrides: { ...s.expertOverrides, [expert]: ingredient } })),
        applyExpertWeights(matches) {
          const p = get().proposal;
          if (!p) return;
          const weights = Object.fromEntries(get().ingredients.map((g) => [g.name, 0]));
          matches.forEach((name, i) => {
            if (name !== undefined) weights[name] = roundWeight(p.weights[i]);
          });
          set((s) => ({ weights: { ...s.weights, ...weights } }));
          const n = matches.filter((m) => m !== undefined).length;
          notify({ kind: 'info', text: `Weights set from the proposed experts: ${n} of ${p.experts.length} matched; other ingredients set to 0 (left out of the soup).` });
        },

        async addInputs(collected) {
          for (const s of collected.skipped) notify({ kind: 'warning', text: s });
          if (collected.inputs.length > 0) await addOpened(collected.inputs);
        },
        remove(id) {
          set((s) => ({ ingredients: s.ingredients.filter((g) => g.id !== id) }));
          persistList();
        },
        dismissToPickAgain() {
          set({ toPickAgain: [] });
          persistList();
        },
        clear() {
          set({ ingredients: [], pendingReconnect: [], toPickAgain: [], demoNote: null });
          persistList();
        },
        loadDemo: () => loadDemo(false),
        init() {
          initPromise ??= (async () => {
            restoring = true;
            try {
              await restore();
            } finally {
              restoring = false;
              persistList();
            }
          })();
          return initPromise;
          async function restore() {
            let saved: SavedIngredient[] | undefined;
            try {
              saved = await loadSession();
            } catch {
              saved = [];
            }
            if (saved === undefined) {
              await loadDemo(false);
              return;
            }
            if (saved.some((s) => s.kind === 'demo')) await loadDemo(true);
            set({ toPickAgain: saved.filter((s) => s.kind === 'lost').map((s) => s.name) });
            const handles = saved.filter((s): s is SavedIngredient & { kind: 'handle' } => s.kind === 'handle');
            const granted: typeof handles = [];
            const waiting: typeof handles = [];
            for (const h of handles) ((await permissionOf(h, false).catch(() => 'prompt' as const)) === 'granted' ? granted : waiting).push(h);
            set({ pendingReconnect: waiting });
            await reopen(granted);
          }
        },
        async reconnect() {
          const pending = get().pendingReconnect;
          const granted: typeof pending = [];
          const still: typeof pending = [];
          for (const h of pending) ((await permissionOf(h, true).catch(() => 'denied' as const)) === 'granted' ? granted : still).push(h);
          set({ pendingReconnect: still });
          if (still.length > 0) notify({ kind: 'warning', text: `Read permission not given for ${still.map((s) => s.name).join(', ')}` });
          await reopen(granted);
        },

        setWeight: (name, weight) => set((s) => ({ weights: { ...s.weights, [name]: weight }, held: without(s.held, name) })),
        setInMerge(name, inMerge) {
          set((s) => {
            const weight = s.weights[name] ?? 0;
            if (inMerge) return { weights: { ...s.weights, [name]: s.held[name] ?? 1 }, held: without(s.held, name) };
            return { weights: { ...s.weights, [name]: 0 }, held: weight !== 0 ? { ...s.held, [name]: weight } : s.held };
          });
        },
        restoreHeld() {
          if (Object.keys(get().held).length === 0) return;
          set((s) => ({ weights: { ...s.weights, ...s.held }, held: {} }));
        },
        setWeights: (weights) => set((s) => ({ weights: { ...s.weights, ...weights } })),
        uniform() {
          const names = get().ingredients.filter((g) => g.status !== 'error').map((g) => g.name);
          set((s) => ({ weights: { ...s.weights, ...uniformWeights(names) } }));
        },
        setNormalise: (normalise) => set({ normalise }),
        setOutDtype: (outDtype) => set({ outDtype }),
        setVocabulary: (vocabulary) => set({ vocabulary }),
        importRecipeText(text, fileName) {
          try {
            const ready = get().ingredients.filter((g) => g.status === 'ready').map((g) => g.input);
            const r = importRecipe(text, fileName, ready);
            set((s) => ({ weights: { ...s.weights, ...r.weights }, normalise: r.normalise, outDtype: r.outDtype === 'F64' || !r.outDtype ? s.outDtype : r.outDtype, vocabulary: r.tokenizerSource ?? 'rows' }));
            useMethodStore.getState().replace(r.setup);
            const used = Object.values(r.weights).filter((w) => w !== 0).length;
            const method = r.setup.method === 'linear' ? '' : `method ${r.setup.method}${r.setup.base ? ` on base ${r.setup.base}` : ''}, `;
            notify({ kind: 'info', text: `${fileName}: ${method}weights set from the recipe (${used} ingredient${used === 1 ? '' : 's'} in the soup)` });
            if (r.unmatched.length > 0) notify({ kind: 'warning', text: `${fileName}: no ingredient matches ${r.unmatched.join(', ')}; add ${r.unmatched.length > 1 ? 'them' : 'it'} and import again` });
            for (const w of r.warnings) notify({ kind: 'warning', text: `${fileName}: ${w}` });
          } catch (e) {
            notify({ kind: 'error', text: messageOf(e) });
          }
        },
        dismissNotice: (index) => set((s) => ({ notices: s.notices.filter((_, i) => i !== index) })),
      };
    },
    {
      name: 'souplab.soup',
      storage: createJSONStorage(() => localStorage),
      partialize: (s) => ({ weights: s.weights, held: s.held, normalise: s.normalise, outDtype: s.outDtype, vocabulary: s.vocabulary, proposal: s.proposal, expertOverrides: s.expertOverrides }),
    },
  ),
);

/** A model's weight, omitted. */
function without(map: Record<string, number>, key: string): Record<string, number> {
  if (!(key in map)) return map;
  const next = { ...map };
  delete next[key];
  return next;
}

// A method with weights chosen: the weights a weightless method set aside come back.
useMethodStore.subscribe((s, prev) => {
  if (s.method !== prev.method && findMethod(s.method)?.parameters.some((p) => p.name === 'weight')) useSoupStore.getState().restoreHeld();
});
