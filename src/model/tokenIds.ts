import { InputError } from '../errors';

/**
 * Refuses a token id outside the model's vocabulary before any work, the same sentence on every backend
 * (`what` names the sequence where there are several). NaN-safe: the test is "inside", not "outside".
 */
export function checkTokenIds(ids: Int32Array, vocabSize: number, what?: string): void {
  for (let i = 0; i < ids.length; i++) {
    if (!(ids[i] >= 0 && ids[i] < vocabSize)) throw new InputError(`${what ? `${what}: ` : ''}token id ${ids[i]} at position ${i} is outside the vocabulary (0…${vocabSize - 1})`);
  }
}
