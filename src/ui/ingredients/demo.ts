/**
 * The demo checkpoints made by scripts/makeDemoCheckpoints.ts (npm run demo:checkpoints), fetched as
 * Files so that they behave exactly like the user's own: opened by header, sent to the merge worker.
 */
import { InputError } from '../../errors';
import type { IngredientInput } from './types';

export interface DemoManifest {
  note: string;
  checkpoints: { name: string; expert: string; files: string[] }[];
}

const base = () => `${import.meta.env.BASE_URL}demo/checkpoints/`;

async function fetchOk(url: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new InputError(`demo checkpoints: ${url} could not be fetched (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!res.ok) {
    throw new InputError(`demo checkpoints: ${url} answered ${res.status}; run npm run demo:checkpoints (npm run build does) to make them`);
  }
  return res;
}

export async function loadDemoInputs(): Promise<{ note: string; inputs: IngredientInput[] }> {
  const res = await fetchOk(`${base()}index.json`);
  let manifest: DemoManifest;
  try {
    manifest = (await res.json()) as DemoManifest;
  } catch {
    throw new InputError('demo checkpoints: index.json is not JSON; run npm run demo:checkpoints again');
  }
  const inputs = await Promise.all(
    manifest.checkpoints.map(async (c): Promise<IngredientInput> => {
      const files = await Promise.all(
        c.files.map(async (f): Promise<[string, File]> => {
          const blob = await (await fetchOk(`${base()}${encodeURIComponent(c.name)}/${encodeURIComponent(f)}`)).blob();
          return [f, new File([blob], f)];
        }),
      );
      return { name: c.name, kind: 'folder', files, demo: true };
    }),
  );
  return { note: manifest.note, inputs };
}
