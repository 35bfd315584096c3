// parseXml(): a uWSGI XML vassal file, `<uwsgi>` (or `<jail>`) with one element per option:
//
//   <uwsgi>
//     <socket>127.0.0.1:3031</socket>
//     <env>A=1</env>
//     <env>B=2</env>       repeated elements accumulate, as repeated ini keys do
//     <master/>            an element with no text is `1`, as uWSGI reads it
//   </uwsgi>
//
// As in uWSGI, the section may also be the first <uwsgi> inside another root element. Read
// with sax (strict XML, with positions): no DTD and no entity but XML's own five, so nothing
// expands.
import { SAXParser, type QualifiedTag, type Tag } from 'sax';
import { ConfigError } from '../errors';
import { checkEntry, checkEntryCount, excerpt } from './limits';
import type { ConfigEntry, RawVassalConfig } from './types';

const SECTIONS: readonly string[] = ['jail', 'uwsgi'];

export function parseXml(text: string, file: string): RawVassalConfig {
  const parser = new SAXParser(true, { position: true });
  const entries: ConfigEntry[] = [];
  let depth = 0;
  let section: 'jail' | 'uwsgi' | undefined;
  let sectionDepth = 0; // while in the section; 0 outside it
  let option: { key: string; line: number; text?: string } | undefined;
  const line = (): number => parser.line + 1;
  const fail = (reason: string, key?: string): never => {
    throw new ConfigError(file, line(), key, reason);
  };

  const openOption = (tag: Tag | QualifiedTag): void => {
    if (option) fail(`<${option.key}> holds a value, not an element (<${tag.name}>)`, option.key);
    const attr = Object.keys(tag.attributes)[0];
    if (attr !== undefined)
      fail(`<${tag.name} ${attr}=…>: an option's element takes no attributes (uWSGI's mode, id and mountpoint are not supported); write the value as its text`, tag.name);
    checkEntry(file, line(), tag.name, '');
    option = { key: tag.name, line: line() };
  };
  parser.onopentag = (tag) => {
    depth++;
    if (sectionDepth > 0) openOption(tag);
    else if (section === undefined && depth <= 2 && SECTIONS.includes(tag.name)) {
      section = tag.name as 'jail' | 'uwsgi';
      sectionDepth = depth;
    }
  };
  const onText = (t: string): void => {
    if (option) {
      option.text = (option.text ?? '') + t;
      checkEntry(file, option.line, option.key, option.text);
    } else if (sectionDepth > 0 && t.trim() !== '') fail(`text outside an option's element: \`${excerpt(t.trim())}\``);
  };
  parser.ontext = onText;
  parser.oncdata = onText;
  parser.onclosetag = () => {
    if (option) {
      checkEntryCount(file, option.line, entries.length + 1);
      entries.push({ key: option.key, value: option.text === undefined ? '1' : option.text.trim(), line: option.line });
      option = undefined;
    } else if (depth === sectionDepth) sectionDepth = 0; // the first section only, as uWSGI
    depth--;
  };
  parser.ondoctype = () => fail('a vassal file has no DOCTYPE (jailctl reads no DTD): remove it');
  parser.onerror = (err) => fail(`XML syntax error: ${err.message.split('\n')[0]!}`);
  parser.write(text.replace(/^\uFEFF/, '')).close();
  if (section === undefined)
    throw new ConfigError(file, undefined, undefined, 'no <jail> (or <uwsgi>) element; an XML vassal file is <uwsgi> with one element per option, e.g. <uwsgi><socket>:3031</socket></uwsgi>');
  return { file, format: 'xml', section, entries };
}
