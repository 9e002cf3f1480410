/**
 * mergekit's model reference `<model>(+<lora>)?` (mergekit/common.py ModelReference: split on "+", one
 * "+" at most): a base model with a PEFT LoRA adapter merged in first.
 */
export interface SplitModelRef {
  base: string;
  adapter?: string;
}

/** The parts of a reference, or a sentence saying why it is not one (more than one "+", an empty side). */
export function splitModelRef(ref: string): SplitModelRef | string {
  const parts = ref.split('+');
  if (parts.length === 1) return { base: ref };
  if (parts.length > 2) return `'${ref}' has ${parts.length - 1} '+' signs; a reference is 'base' or 'base+adapter' (one LoRA adapter, as mergekit reads it)`;
  const [base, adapter] = parts.map((p) => p.trim());
  if (base === '' || adapter === '') return `'${ref}' has an empty ${base === '' ? 'base' : 'adapter'} before or after '+'; write 'path/to/base+path/to/adapter'`;
  return { base, adapter };
}
