/**
 * `souplab merge … --out soup.gguf`: the arguments. The writing is the engine's (runRecipe's `gguf` output,
 * src/merge/soupGguf.ts), the same as the studio's GGUF export: streamed from the soup into a temporary
 * beside --out, renamed into place only when complete.
 */
import { GGUF_TYPES, type GgufFileType } from '../model/gguf/writeGguf';
import { UsageError } from './io';

export const isGgufPath = (path: string) => /\.gguf$/i.test(path);

export function parseGgufType(value: string | true | undefined, outIsGguf: boolean): GgufFileType | undefined {
  if (value === undefined) return undefined;
  if (!outIsGguf) throw new UsageError('--gguf-type applies to a .gguf output');
  const type = typeof value === 'string' ? value.toLowerCase() : '';
  if (!(GGUF_TYPES as readonly string[]).includes(type)) throw new UsageError(`--gguf-type must be one of ${GGUF_TYPES.join(', ')}, got '${String(value)}'`);
  return type as GgufFileType;
}
