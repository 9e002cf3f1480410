import { writeDemoCheckpoint } from '../../scripts/makeDemoCheckpoints';
import type { IngredientInput } from '../../src/ui/ingredients/types';
import { MemoryTarget } from '../formats/helpers';

/** A demo checkpoint (real tokenizer) as the studio holds an added folder: its files as Files. */
export async function demoFolder(variant: number, name: string, withTokenizer = true): Promise<Pick<IngredientInput, 'name' | 'kind' | 'files'>> {
  const target = new MemoryTarget(name);
  await writeDemoCheckpoint(target, variant, name);
  const files = [...target.committed].filter(([f]) => withTokenizer || f !== 'tokenizer.json');
  return { name, kind: 'folder', files: files.map(([f, bytes]) => [f, new File([bytes as Uint8Array<ArrayBuffer>], f)]) };
}
