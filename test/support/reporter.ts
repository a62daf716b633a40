/**
 * node:test reporter: a readable line per test, failures with their error and
 * the console logs tests attach, then a closing line `N passed, N failed`
 * (`, N skipped` when anything was skipped), which CI reads.
 */
import { inspect } from 'node:util';

interface TestEventData {
  name: string;
  nesting: number;
  file?: string;
  skip?: string | boolean;
  todo?: string | boolean;
  message?: string;
  details?: { duration_ms?: number; type?: string; error?: unknown };
}

interface TestEvent {
  type: string;
  data: TestEventData;
}

function formatError(error: unknown): string {
  // node:test wraps a failing test's error in an ERR_TEST_FAILURE whose cause is the real one.
  const cause = error instanceof Error && 'cause' in error && error.cause !== undefined ? error.cause : error;
  return inspect(cause, { depth: 4, colors: false });
}

function indent(text: string, by: string): string {
  return text
    .split('\n')
    .map((line) => by + line)
    .join('\n');
}

export default async function* reporter(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const failures: string[] = [];

  for await (const event of source) {
    const { data } = event;
    const pad = '  '.repeat(data.nesting);
    const ms = data.details?.duration_ms === undefined ? '' : ` (${data.details.duration_ms.toFixed(0)} ms)`;
    const isSuite = data.details?.type === 'suite';
    switch (event.type) {
      case 'test:pass':
        if (data.skip !== undefined || data.todo !== undefined) {
          if (!isSuite) skipped += 1;
          yield `${pad}- ${data.name} # SKIP\n`;
        } else {
          if (!isSuite) passed += 1;
          yield `${pad}✔ ${data.name}${ms}\n`;
        }
        break;
      case 'test:fail': {
        if (!isSuite) failed += 1;
        const where = data.file === undefined ? '' : ` [${data.file}]`;
        const err = indent(formatError(data.details?.error), `${pad}    `);
        yield `${pad}✖ ${data.name}${ms}\n${err}\n`;
        if (!isSuite) failures.push(`✖ ${data.name}${where}`);
        break;
      }
      case 'test:diagnostic':
        if (data.nesting > 0 || !/^(tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) /.test(data.message ?? '')) {
          yield `${pad}ℹ ${data.message ?? ''}\n`;
        }
        break;
      case 'test:stderr':
      case 'test:stdout':
        yield data.message ?? '';
        break;
      default:
        break;
    }
  }
  if (failures.length > 0) yield `\nFailed:\n${failures.join('\n')}\n`;
  yield `\n${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}\n`;
}
