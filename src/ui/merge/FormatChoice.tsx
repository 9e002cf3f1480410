import { useEffect, useState } from 'react';
import type { GgufFileType } from '../../model/gguf/writeGguf';
import type { MergePlan } from '../../merge/plan';
import { ggufModelFiles, ggufSoupInputs, ggufSoupType, type GgufModelFiles } from '../../merge/soupGguf';
import type { Checkpoint } from '../../formats/checkpoint';
import { messageOf } from '../ingredients/openIngredient';
import { useMergeStore, type OutputFormat } from '../state/mergeStore';

const FORMATS: { format: OutputFormat; label: string; hint: string }[] = [
  { format: 'safetensors', label: 'safetensors', hint: 'a Hugging Face checkpoint: transformers, vLLM, mergekit, more souping' },
  { format: 'gguf', label: 'GGUF', hint: 'one file for llama.cpp, Ollama, LM Studio, with the tokenizer and chat template inside' },
  {
    format: 'lora',
    label: 'LoRA adapter',
    hint: 'the soup’s difference to the recipe’s base model as a rank-r PEFT adapter (adapter_config.json + adapter_model.safetensors), by truncated SVD per tensor, as souplab extract-lora writes it',
  },
];

/** What each GGUF type costs and gives, in a line. */
const GGUF_TYPE_INFO: { type: GgufFileType; label: string; hint: string }[] = [
  {
    type: 'bf16',
    label: 'BF16',
    hint: 'BF16: 2 bytes a weight, lossless for BF16 fine-tunes (most are); llama.cpp runs it on CPUs, CUDA and Metal.',
  },
  {
    type: 'f16',
    label: 'F16',
    hint: 'F16: 2 bytes a weight, the 16-bit type every llama.cpp backend accelerates; exact for BF16 weights between 6e-5 and 65,504 in size, rounds smaller ones.',
  },
  {
    type: 'q8_0',
    label: 'Q8_0',
    hint: 'Q8_0: 8-bit quantised, blocks of 32 weights sharing one F16 scale (8.5 bits a weight): about half the size of F16 and faster on CPUs, for a small loss (llama.cpp’s near-lossless quantisation). Norms stay F32; matrices whose rows do not split into blocks of 32 stay F16.',
  },
  { type: 'f32', label: 'F32', hint: 'F32: 4 bytes a weight, exact, twice the size of BF16 — for checking, rarely for running.' },
];

export type GgufCheck = { state: 'checking' } | { state: 'ok'; line: string; notes: string[] } | { state: 'problem'; message: string };

/** The reference model's files, checked once per checkpoint (a real tokenizer takes a moment). */
const checked = new WeakMap<Checkpoint, Promise<GgufModelFiles>>();

/**
 * Whether the soup can be written as GGUF, known before Merge is pressed: the base model's config.json and
 * tokenizer.json present and supported (one line saying what is missing otherwise). The worker checks again.
 */
export function useGgufCheck(plan: MergePlan | null, wanted: boolean): GgufCheck | null {
  const [check, setCheck] = useState<{ plan: MergePlan; result: GgufCheck } | null>(null);
  useEffect(() => {
    if (!plan || !wanted) return;
    let live = true;
    const ref = plan.reference;
    let files = checked.get(ref.checkpoint);
    if (!files) {
      files = ggufModelFiles(ref);
      checked.set(ref.checkpoint, files);
    }
    void files
      .then((f) => ggufSoupInputs(plan, f))
      .then(
        (inputs): GgufCheck => ({
          state: 'ok',
          line: `${inputs.files.config.hfArchitecture} with the tokenizer${inputs.files.tokenizerConfigJson ? ' and chat template' : ''} of ${ref.label}`,
          notes: inputs.notes,
        }),
        (e: unknown): GgufCheck => ({ state: 'problem', message: messageOf(e) }),
      )
      .then((result) => {
        if (live) setCheck({ plan, result });
      });
    return () => {
      live = false;
    };
  }, [plan, wanted]);
  if (!plan || !wanted) return null;
  return check?.plan === plan ? check.result : { state: 'checking' };
}

/** The type a GGUF export writes: the one chosen, else the soup's own. */
export function ggufTypeOf(plan: MergePlan | null, chosen: GgufFileType | null): GgufFileType {
  return chosen ?? (plan ? ggufSoupType(plan) : 'bf16');
}

/**
 * Output format (safetensors, GGUF or a LoRA adapter) and, for GGUF, its weight type and whether the base
 * model's files allow it; for a LoRA adapter, its rank and the base it is for (`loraBase`: the recipe's base model).
 */
export function FormatChoice({ disabled, plan, check, loraBase }: { disabled: boolean; plan: MergePlan | null; check: GgufCheck | null; loraBase: string | undefined }) {
  const format = useMergeStore((s) => s.format);
  const setFormat = useMergeStore((s) => s.setFormat);
  const chosen = useMergeStore((s) => s.ggufType);
  const setGgufType = useMergeStore((s) => s.setGgufType);
  const loraRank = useMergeStore((s) => s.loraRank);
  const setLoraRank = useMergeStore((s) => s.setLoraRank);
  const soupType = plan ? ggufSoupType(plan) : undefined;
  const type = ggufTypeOf(plan, chosen);
  return (
    <>
      <fieldset className="outputs formats" disabled={disabled}>
        <legend>Format</legend>
        {FORMATS.map((f) => (
          <label key={f.format}>
            <input type="radio" name="format" value={f.format} checked={format === f.format} onChange={() => setFormat(f.format)} /> {f.label}{' '}
            <span className="muted small">— {f.hint}</span>
          </label>
        ))}
      </fieldset>
      {format === 'lora' && (
        <div className="lora-options">
          <label>
            LoRA rank{' '}
            <input
              type="number"
              min={1}
              step={1}
              value={loraRank}
              disabled={disabled}
              onChange={(e) => {
                const r = Number(e.currentTarget.value);
                if (Number.isInteger(r) && r >= 1) setLoraRank(r);
              }}
            />
          </label>
          {loraBase ? (
            <p className="small" data-testid="lora-check">
              A rank-{loraRank} adapter for {loraBase}: the soup is merged in memory, then each changed weight’s difference to {loraBase} is factored; the energy each tensor keeps is
              shown when it is written.
            </p>
          ) : (
            <p role="alert" className="error" data-testid="lora-check">
              No LoRA adapter possible: an adapter is the soup’s difference to the recipe’s base model, and this soup has none; choose a method with a base model (Ingredients).
            </p>
          )}
        </div>
      )}
      {format === 'gguf' && (
        <div className="gguf-options">
          <label>
            GGUF type{' '}
            <select value={type} disabled={disabled} onChange={(e) => setGgufType(e.currentTarget.value as GgufFileType)}>
              {GGUF_TYPE_INFO.map((t) => (
                <option key={t.type} value={t.type}>
                  {t.label}
                  {t.type === soupType ? ' (the soup’s own)' : ''}
                </option>
              ))}
            </select>
          </label>
          <p className="muted small gguf-type-hint">{GGUF_TYPE_INFO.find((t) => t.type === type)?.hint}</p>
          {check?.state === 'checking' && <p className="muted small">Checking the base model’s config and tokenizer…</p>}
          {check?.state === 'ok' && (
            <p className="small" data-testid="gguf-check">
              GGUF of a {check.line}.
              {check.notes.map((n) => (
                <span key={n} className="warning">
                  {' '}
                  Note: {n}.
                </span>
              ))}
            </p>
          )}
          {check?.state === 'problem' && (
            <p role="alert" className="error" data-testid="gguf-check">
              No GGUF possible: {check.message}
            </p>
          )}
        </div>
      )}
    </>
  );
}
