/** Before writing into a folder the user picked: never into an input's folder; ask before replacing a model. */
import { entriesOf } from '../ingredients/fsAccess';
import type { IngredientInput } from '../ingredients/types';

const MODEL_FILE = /^(model(-\d{5}-of-\d{5})?\.safetensors|model\.safetensors\.index\.json)$/;

/**
 * A reason not to write there, 'declined' when the person said no, or undefined to go ahead. `ggufFile`:
 * the export is that one GGUF file, and only a file of that name would be replaced.
 */
export async function checkOutputFolder(dir: FileSystemDirectoryHandle, inputs: IngredientInput[], ggufFile?: string): Promise<string | 'declined' | undefined> {
  for (const input of inputs) {
    if (input.handle?.kind === 'directory' && (await dir.isSameEntry(input.handle))) {
      return `${dir.name} is the folder of ingredient ${input.name}; writing there would replace it. Choose another folder.`;
    }
    for (const [, item] of input.files) {
      if (!(item instanceof Blob) && (await dir.resolve(item)) !== null) {
        return `${dir.name} holds files of ingredient ${input.name}; writing there would replace them. Choose another folder.`;
      }
    }
  }
  const existing = (await entriesOf(dir)).map(([n]) => n).filter((n) => (ggufFile === undefined ? MODEL_FILE.test(n) : n === ggufFile));
  if (existing.length > 0 && !window.confirm(`${dir.name} already holds ${existing.join(', ')}. Replace that model with the soup?`)) return 'declined';
  return undefined;
}
