// npm run man: writes man/jailctl.1 from the option tables (src/cli/man.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { buildProgram } from '../src/cli/jailctl';
import { renderManPage } from '../src/cli/man';
import { VERSION } from '../src/version';

const target = process.argv[2] ?? join(__dirname, '..', 'man', 'jailctl.1');
mkdirSync(dirname(target), { recursive: true });
writeFileSync(target, renderManPage(buildProgram(), VERSION));
console.log(`man page: ${target}`);
