import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { shellQuote } from '../../../src/config/expand';
import { splitWords, WordsError } from '../../../src/plan/words';

const split = suite('splitWords');

split('splits on blanks and respects quotes like sh', () => {
  assert.equal(splitWords(`nginx -g "daemon off; pid /run/n.pid;" -c /etc/nginx.conf`),
    ['nginx', '-g', 'daemon off; pid /run/n.pid;', '-c', '/etc/nginx.conf']);
  assert.equal(splitWords(`sh -c 'echo "$HOME"'`), ['sh', '-c', 'echo "$HOME"']);
  assert.equal(splitWords('a\\ b  "c\\"d" \'\''), ['a b', 'c"d', '']);
  assert.equal(splitWords('  x\ty  '), ['x', 'y']);
  assert.equal(splitWords('pre"mid"post'), ['premidpost']);
});

split('a shell-quoted value is one word, whatever it holds', () => {
  for (const v of ['', 'plain', "it's", "''", '$(touch /x)', '`id`', 'a; b', '"q" \\ \'x\'', ' lead and trail ', '\t'])
    for (const [open, close] of [['', ''], ['"a', 'b"'], ["'a", "b'"]]) {
      const inner = open === '' ? v : `a${v}b`;
      const quoted = open === '' ? shellQuote(v) : `${open}${open[0]}${shellQuote(v)}${open[0]}${close}`;
      assert.equal(splitWords(`cmd ${quoted} end`), ['cmd', inner, 'end'], quoted);
    }
});

split('expands nothing and keeps operators as words', () => {
  assert.equal(splitWords('echo $HOME | cat > f'), ['echo', '$HOME', '|', 'cat', '>', 'f']);
});

split('reports unterminated quotes with a column', () => {
  assert.throws(() => splitWords(`echo 'oops`), (e: unknown) => e instanceof WordsError && e.column === 6 && /single quote/.test(e.message));
  assert.throws(() => splitWords('echo "x'), (e: unknown) => e instanceof WordsError && e.column === 6);
  assert.throws(() => splitWords('echo \\'), (e: unknown) => e instanceof WordsError && /backslash/.test(e.message));
});

split.run();
