// Run before `npm test`: a clear message when the dependencies are missing.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ui = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
if (!fs.existsSync(path.join(ui, 'node_modules', 'vitest', 'package.json'))) {
  console.error(`${path.join(ui, 'node_modules')} lacks the UI's dependencies: run \`npm ci\` in ui/ ` +
    '(./setup.sh build does it)');
  process.exit(1);
}
