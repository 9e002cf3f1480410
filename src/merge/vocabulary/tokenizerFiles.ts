/**
 * The files of the merged model's tokenizer, consistent with the rows written: the chosen source's
 * tokenizer files (the base's for `base` and `union`, a model's for `<model>`), with the tokens the
 * output adds appended to tokenizer.json's added_tokens and tokenizer_config.json's
 * added_tokens_decoder (as Hugging Face's add_tokens() saves them), and config.json's vocab_size set
 * to the output's rows. Where tokens were added, the slow tokenizer's files (vocab.json, merges.txt,
 * tokenizer.model, added_tokens.json) would disagree with tokenizer.json and are left out.
 */
import { bytesSource } from '../../formats/memorySource';
import type { ByteSource } from '../../formats/types';
import type { AlignedVocabulary } from './alignVocabulary';

const TOKENIZER_FILE = /^(tokenizer(_config)?\.json|tokenizer\.model|special_tokens_map\.json|added_tokens\.json|vocab\.(json|txt)|merges\.txt|spiece\.model|chat_template\.(jinja|json))$/;
const SLOW_TOKENIZER_FILE = /^(tokenizer\.model|added_tokens\.json|vocab\.(json|txt)|merges\.txt|spiece\.model)$/;

/**
 * The reference's (members[0]'s) extra files with the tokenizer files replaced. `tokenizerJsons` are
 * the members' parsed tokenizer.json (null where a member has none).
 */
export async function outputTokenizerFiles(
  aligned: AlignedVocabulary,
  extraFiles: Map<string, ByteSource>[],
  tokenizerJsons: (Record<string, unknown> | null)[],
  unused: string[][],
): Promise<Map<string, ByteSource>> {
  const src = typeof aligned.source === 'number' ? aligned.source : 0;
  const out = new Map<string, ByteSource>();
  for (const [name, file] of extraFiles[0]) if (!TOKENIZER_FILE.test(name)) out.set(name, file);
  const added = aligned.newAddedTokens;
  // mergekit strips the source's unused tokens (ids past config.json's vocab_size) from the tokenizer it saves.
  const stripped = new Set(unused[src]);
  const rewritten = added.length > 0 || stripped.size > 0;
  for (const [name, file] of extraFiles[src]) {
    if (!TOKENIZER_FILE.test(name) || (rewritten && SLOW_TOKENIZER_FILE.test(name))) continue;
    out.set(name, file);
  }
  if (rewritten) {
    const json = structuredClone(tokenizerJsons[src] ?? tokenizerJsons[0]!);
    json.added_tokens = [...(Array.isArray(json.added_tokens) ? (json.added_tokens as { content?: unknown }[]).filter((e) => !stripped.has(String(e.content))) : []), ...added];
    if (stripped.size > 0) stripTokens(json, stripped);
    out.set('tokenizer.json', jsonFile('tokenizer.json', json));
    const configFile = extraFiles[src].get('tokenizer_config.json');
    if (configFile) {
      const config = await readJsonObject(configFile);
      if (config) {
        const decoder: Record<string, unknown> = {};
        for (const [id, e] of Object.entries((config.added_tokens_decoder as Record<string, { content?: unknown }> | undefined) ?? {})) {
          if (!stripped.has(String(e?.content))) decoder[id] = e;
        }
        for (const e of added) {
          const { id, ...rest } = e;
          decoder[String(id)] = { content: rest.content, lstrip: rest.lstrip ?? false, normalized: rest.normalized ?? true, rstrip: rest.rstrip ?? false, single_word: rest.single_word ?? false, special: rest.special ?? false };
        }
        config.added_tokens_decoder = decoder;
        out.set('tokenizer_config.json', jsonFile('tokenizer_config.json', config));
      }
    }
  }
  const configJson = extraFiles[0].get('config.json');
  if (configJson) {
    const config = await readJsonObject(configJson);
    if (config && config.vocab_size !== aligned.rows) {
      config.vocab_size = aligned.rows;
      out.set('config.json', jsonFile('config.json', config));
    }
  }
  return out;
}

/** Removes tokens from a tokenizer.json's model.vocab and BPE merges (as mergekit's get_stripped_tokenizer). */
function stripTokens(json: Record<string, unknown>, tokens: Set<string>): void {
  const model = json.model as Record<string, unknown> | undefined;
  if (!model) return;
  if (model.vocab && typeof model.vocab === 'object' && !Array.isArray(model.vocab)) {
    model.vocab = Object.fromEntries(Object.entries(model.vocab as Record<string, unknown>).filter(([t]) => !tokens.has(t)));
  }
  if (Array.isArray(model.merges)) {
    model.merges = (model.merges as unknown[]).filter((m) => {
      const parts = Array.isArray(m) ? (m as unknown[]).map(String) : typeof m === 'string' ? m.split(' ') : [];
      return !parts.some((p) => tokens.has(p));
    });
  }
}

function jsonFile(name: string, value: unknown): ByteSource {
  return bytesSource(new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`), name);
}

/** A JSON object file, or null when it is not one (then it is carried as it is). */
async function readJsonObject(source: ByteSource): Promise<Record<string, unknown> | null> {
  try {
    const v = JSON.parse(new TextDecoder().decode(await source.read(0, source.size))) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
