import { readSkippedSuites, skippedSuitesLine } from './skipped-suites';

// `npm test`'s last line (scripts/test.sh): the suites that the steps before it recorded as skipped.
console.log(skippedSuitesLine(readSkippedSuites(process.argv[2] ?? '')));
