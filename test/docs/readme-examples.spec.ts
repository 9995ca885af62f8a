import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';

/**
 * Every TypeScript example of the READMEs (the repository's and the package's) and of the guides in docs/ compiles
 * as written: each ```ts block is type-checked as a module of its own, with the repository's compiler options,
 * importing the library by its published name. An example that drifts from the API (a renamed option, a provider
 * the module no longer exports) fails here, not in a user's app. And the package README, which ships alone, links
 * only to what exists: guides by their repository URL, to headings they have.
 */
const ROOT = resolve(__dirname, '../..');
const PACKAGE_README = 'libs/idempotency/README.md';
const GUIDES = readdirSync(join(ROOT, 'docs'))
  .filter((name) => name.endsWith('.md'))
  .map((name) => `docs/${name}`);
const DOCUMENTS = ['README.md', PACKAGE_README, ...GUIDES];
const REPOSITORY_DOCS_URL = 'https://github.com/nest-idempotency/nest-idempotency/blob/main/docs/';

interface Example {
  document: string;
  line: number;
  file: string;
  code: string;
}

function examplesOf(document: string): Example[] {
  const lines = readFileSync(join(ROOT, document), 'utf8').split('\n');
  const examples: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '```ts') continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end].trim() !== '```') end++;
    // Next to the repository root, so that imports resolve from its node_modules as a user's would.
    const file = join(ROOT, `${document.replace(/\//g, '_')}.example-${start + 1}.ts`);
    examples.push({ document, line: start + 1, file, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return examples;
}

function compilerOptions(): ts.CompilerOptions {
  const config = ts.readConfigFile(join(ROOT, 'tsconfig.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
  // tsconfig.json maps the published names to the sources, as the repository's own code imports them.
  return { ...options, noEmit: true, noUnusedLocals: false, types: ['node'] };
}

function diagnose(examples: Example[]): string[] {
  const options = compilerOptions();
  const host = ts.createCompilerHost(options);
  const byFile = new Map(examples.map((example) => [example.file, example]));
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (name) => byFile.has(name) || fileExists.call(host, name);
  host.readFile = (name) => byFile.get(name)?.code ?? readFile.call(host, name);
  host.getSourceFile = (name, version, ...rest) => {
    const example = byFile.get(name);
    return example
      ? ts.createSourceFile(name, example.code, version, true)
      : getSourceFile.call(host, name, version, ...rest);
  };
  const program = ts.createProgram([...byFile.keys()], options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .filter((diagnostic) => diagnostic.file && byFile.has(diagnostic.file.fileName))
    .map((diagnostic) => {
      const example = byFile.get(diagnostic.file!.fileName)!;
      const { line } = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
      return `${example.document}:${example.line + line}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
    });
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function anchorsOf(document: string): Set<string> {
  const anchors = new Set<string>();
  let inCode = false;
  for (const line of readFileSync(join(ROOT, document), 'utf8').split('\n')) {
    if (line.startsWith('```')) inCode = !inCode;
    const heading = !inCode && /^#{1,6} (.*)$/.exec(line);
    if (heading) anchors.add(anchorOf(heading[1]));
  }
  return anchors;
}

/** The package README's links that do not resolve: to a file the package lacks, a missing guide, a missing heading. */
function brokenPackageLinks(): string[] {
  const text = readFileSync(join(ROOT, PACKAGE_README), 'utf8');
  const broken: string[] = [];
  for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    const [path, anchor] = target.split('#');
    if (path === '') {
      if (!anchorsOf(PACKAGE_README).has(anchor)) broken.push(target);
    } else if (path.startsWith(REPOSITORY_DOCS_URL)) {
      const guide = `docs/${path.slice(REPOSITORY_DOCS_URL.length)}`;
      if (!existsSync(join(ROOT, guide)) || (anchor !== undefined && !anchorsOf(guide).has(anchor)))
        broken.push(target);
    } else if (!/^https?:\/\//.test(path)) {
      broken.push(`${target} (a relative link: the package holds no such file)`);
    }
  }
  return broken;
}

describe('the README examples', () => {
  const examples = DOCUMENTS.flatMap(examplesOf);

  it('are there to check, in the package README and in every guide that shows code', () => {
    const withCode = ['stores', 'transactional', 'message-consumers', 'graphql', 'client', 'operations'];
    for (const document of [PACKAGE_README, ...withCode.map((guide) => `docs/${guide}.md`)])
      expect(examples.filter((example) => example.document === document).length).toBeGreaterThanOrEqual(1);
    expect(examples.length).toBeGreaterThanOrEqual(20);
  });

  it('of the package README link only to guides and headings that exist', () => {
    expect(brokenPackageLinks()).toEqual([]);
  });

  it('compile as written', () => {
    expect(diagnose(examples)).toEqual([]);
  }, 120_000);
});
