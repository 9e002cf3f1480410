import { InputError } from '../errors';

/** A model's JSON file (given as text or already parsed) as an object, or one line saying what is wrong with it. */
export function parseJsonObject(input: string | unknown, name: string): Record<string, unknown> {
  let json: unknown = input;
  if (typeof input === 'string') {
    try {
      json = JSON.parse(input);
    } catch (e) {
      throw new InputError(`${name}: not valid JSON (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
    }
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new InputError(`${name}: expected a JSON object`);
  return json as Record<string, unknown>;
}
