// The search form's tag filter: `key=value` pairs separated by spaces; a value
// with spaces is quoted (`http.url="/a b"`). The API takes them as a JSON
// object in the `tags` parameter.

export interface ParsedTags {
  tags: Record<string, string>;
  errors: string[];
}

export function parseTags(input: string): ParsedTags {
  const tags: Record<string, string> = {};
  const errors: string[] = [];
  let i = 0;
  const n = input.length;
  while (i < n) {
    while (i < n && /\s/.test(input[i])) i++;
    if (i >= n) break;
    // One token: up to whitespace outside quotes.
    let token = '';
    let quoted = false;
    let sawQuote = false;
    while (i < n && (quoted || !/\s/.test(input[i]))) {
      const c = input[i];
      if (c === '"') {
        quoted = !quoted;
        sawQuote = true;
      } else if (c === '\\' && quoted && i + 1 < n) {
        i++;
        token += input[i];
      } else {
        token += c;
      }
      i++;
    }
    if (quoted) {
      errors.push(`unterminated quote in ${JSON.stringify(token)}`);
      continue;
    }
    const eq = token.indexOf('=');
    if (eq <= 0) {
      errors.push(eq === 0 ? `missing key in ${JSON.stringify(token)}` :
        `${JSON.stringify(token)} is not key=value`);
      continue;
    }
    const key = token.slice(0, eq);
    const value = token.slice(eq + 1);
    if (value === '' && !sawQuote) {
      errors.push(`missing value for ${JSON.stringify(key)}`);
      continue;
    }
    tags[key] = value;
  }
  return { tags, errors };
}

// The inverse, for showing a tags object in the form.
export function formatTags(tags: Record<string, string>): string {
  return Object.entries(tags)
    .map(([k, v]) => (/[\s"]/.test(v) || v === '' ? `${k}="${v.replace(/["\\]/g, '\\$&')}"` : `${k}=${v}`))
    .join(' ');
}
