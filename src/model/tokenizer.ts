/**
 * Tokenisation by @huggingface/tokenizers from a model's tokenizer.json (+ tokenizer_config.json), and chat
 * templates by @huggingface/jinja. No hand-written BPE: the library is what Transformers.js uses, and the
 * referee tests check it against llama.cpp's tokenizer.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { InputError } from '../errors';
import { parseJsonObject } from './json';
import type { TextTokenizer } from './types';

export interface ChatMessage {
  role: string;
  content: string;
}

type Json = Record<string, unknown>;

/** tokenizer_config.json names special tokens as strings or as {content: …} objects. */
function tokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return null;
}

export class HfTokenizer implements TextTokenizer {
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  /** The chat template of tokenizer_config.json (the "default" one where several are named), or null. */
  readonly chatTemplate: string | null;
  private readonly tokenizer: Tokenizer;
  private readonly cleanUpSpaces: boolean;
  private template: Template | null = null;

  /** `tokenizerJson` / `tokenizerConfig`: file text or parsed objects; `name` names the model in messages. */
  constructor(tokenizerJson: string | unknown, tokenizerConfig: string | unknown | null, name = 'model') {
    const json = parseJsonObject(tokenizerJson, `${name}/tokenizer.json`);
    const config = tokenizerConfig === null ? {} : parseJsonObject(tokenizerConfig, `${name}/tokenizer_config.json`);
    const model = json.model as Json | undefined;
    if (typeof model !== 'object' || model === null || typeof model.type !== 'string') {
      throw new InputError(`${name}/tokenizer.json: no "model" section with a type (BPE, Unigram, WordPiece)`);
    }
    try {
      // The library keeps (and may change) what it is given; the caller's objects stay theirs.
      this.tokenizer = new Tokenizer({ ...structuredClone(json), added_tokens: Array.isArray(json.added_tokens) ? structuredClone(json.added_tokens) : [] }, structuredClone(config));
    } catch (e) {
      throw new InputError(`${name}/tokenizer.json: cannot be read (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
    }
    this.bosToken = tokenContent(config.bos_token);
    this.eosToken = tokenContent(config.eos_token);
    this.bosTokenId = this.bosToken === null ? null : (this.tokenizer.token_to_id(this.bosToken) ?? null);
    this.eosTokenId = this.eosToken === null ? null : (this.tokenizer.token_to_id(this.eosToken) ?? null);
    this.cleanUpSpaces = config.clean_up_tokenization_spaces === true;
    this.chatTemplate = pickChatTemplate(config.chat_template);
  }

  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
  }

  decode(ids: ArrayLike<number>): string {
    if (ids.length === 0) return '';
    return this.tokenizer.decode(Array.from(ids), { clean_up_tokenization_spaces: this.cleanUpSpaces });
  }

  /** The id of a token string, or undefined when it is not in the vocabulary. */
  tokenId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }

  /** Renders the chat template as transformers' apply_chat_template(tokenize=False) does. */
  applyChatTemplate(messages: readonly ChatMessage[], options: { addGenerationPrompt?: boolean } = {}): string {
    if (this.chatTemplate === null) throw new InputError('this model has no chat template in tokenizer_config.json');
    this.template ??= new Template(this.chatTemplate);
    return this.template.render({
      messages,
      bos_token: this.bosToken ?? '',
      eos_token: this.eosToken ?? '',
      add_generation_prompt: options.addGenerationPrompt ?? false,
    });
  }
}

/** chat_template is a string, or a list of {name, template} (the one named "default" is used). */
function pickChatTemplate(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    const named = v.filter((t): t is { name: string; template: string } => typeof t === 'object' && t !== null && typeof t.template === 'string');
    return (named.find((t) => t.name === 'default') ?? named[0])?.template ?? null;
  }
  return null;
}
