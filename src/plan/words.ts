// Splits a command line into words the way a POSIX shell would (quotes and backslashes
// respected, nothing expanded), so `*-binary-patch-arg` is exec'd directly and never
// handed to /bin/sh. Written here rather than taken from shell-quote: that library also
// parses operators and expands variables, which a vassal line must not do silently.

// Thrown with the column of the problem; compile.ts adds the file and line.
export class WordsError extends Error {
  readonly column: number;
  constructor(message: string, column: number) {
    super(message);
    this.column = column;
  }
}

// `nginx -g "daemon off;"` → ['nginx', '-g', 'daemon off;'].
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new WordsError('unterminated single quote', i + 1);
      word += line.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        // Inside double quotes a backslash only escapes these, as in sh.
        if (line[j] === '\\' && j + 1 < line.length && '"\\$`'.includes(line[j + 1]!)) j++;
        word += line[j];
      }
      if (j >= line.length) throw new WordsError('unterminated double quote', i + 1);
      inWord = true;
      i = j;
    } else if (c === '\\') {
      if (i + 1 >= line.length) throw new WordsError('trailing backslash', i + 1);
      word += line[++i];
      inWord = true;
    } else if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}
