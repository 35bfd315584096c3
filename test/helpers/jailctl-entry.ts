// bin/jailctl, but from the TypeScript sources (so tests need no build step).
import { main } from '../../src/cli/jailctl';

void main(process.argv);
