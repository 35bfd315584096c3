// npm run readme: the README's option reference, rendered again from the option tables.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withReference } from '../src/cli/reference';

const path = join(__dirname, '..', 'README.md');
const before = readFileSync(path, 'utf8');
const after = withReference(before);
writeFileSync(path, after);
console.log(after === before ? 'README.md: the option reference is up to date' : 'README.md: the option reference was rendered again');
