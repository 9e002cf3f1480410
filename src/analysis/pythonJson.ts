/**
 * JSON.parse that also takes the bare NaN / Infinity / -Infinity that Python's json.dump writes (and
 * lm-eval results hold, e.g. an undefined stderr): they become null.
 */
export function parseJsonLenient(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (first) {
    let out = '';
    let last = 0;
    let inString = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
        continue;
      }
      if (c === '"') {
        inString = true;
        continue;
      }
      const m = /^-?(?:NaN|Infinity)/.exec(text.slice(i, i + 9));
      if (m) {
        out += text.slice(last, i) + 'null';
        i += m[0].length - 1;
        last = i + 1;
      }
    }
    if (last === 0) throw first;
    return JSON.parse(out + text.slice(last));
  }
}
