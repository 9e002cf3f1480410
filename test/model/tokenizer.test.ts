import { describe, expect, test } from 'vitest';
import { tinyTokenizer } from '../../scripts/tinyModel';
import { HfTokenizer } from '../../src/model/tokenizer';

describe('HfTokenizer (its ids are checked against llama.cpp in llamaReferee.test.ts)', () => {
  test('Llama 3 style: BOS added unless asked not to, special tokens whole, decode inverts encode', () => {
    const t = tinyTokenizer('llama');
    const tok = new HfTokenizer(JSON.stringify(t.tokenizerJson), JSON.stringify(t.tokenizerConfig));
    expect(tok.bosTokenId).toBe(t.bosTokenId);
    expect(tok.eosTokenId).toBe(t.eosTokenId);
    const text = 'Café <|eot_id|> 日本\r\n  x';
    const ids = tok.encode(text);
    expect(ids[0]).toBe(t.bosTokenId);
    expect(tok.encode(text, { addSpecialTokens: false })).toEqual(ids.slice(1));
    expect(ids).toContain(tok.tokenId('<|eot_id|>'));
    expect(tok.decode(ids.slice(1))).toBe(text);
    expect(tok.decode([])).toBe('');
  });

  test('chat templates render as transformers does', () => {
    const llama = tinyTokenizer('llama');
    const qwen = tinyTokenizer('qwen3');
    const messages = [{ role: 'user', content: ' Hi ' }];
    expect(new HfTokenizer(llama.tokenizerJson, llama.tokenizerConfig).applyChatTemplate(messages, { addGenerationPrompt: true })).toBe(
      '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    );
    expect(new HfTokenizer(qwen.tokenizerJson, qwen.tokenizerConfig).applyChatTemplate(messages)).toBe('<|im_start|>user\n Hi <|im_end|>\n');
  });

  test('a tokenizer.json without a model is refused in one line', () => {
    expect(() => new HfTokenizer('{"added_tokens": []}', null, 'm')).toThrow('m/tokenizer.json: no "model" section with a type (BPE, Unigram, WordPiece)');
  });
});
