/**
 * The metric names a PromQL expression reads, found without a full parser: strings, label matchers, ranges and
 * grouping label lists are cut out first, then every identifier left that is not a keyword and not called as a
 * function is a metric name. Good enough to catch a misspelt or renamed metric in a rule or a dashboard panel;
 * promtool checks that the expression parses.
 */
const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'offset',
  'bool',
  'inf',
  'nan',
  'atan2',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
]);

export function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    // Numbers and durations (0.99, 1e-3, 5m): anything that starts with a digit.
    .replace(/(?<![\w:])\d[\w.+-]*/g, ' ');
  const names = new Set<string>();
  for (const match of bare.matchAll(/(?<![\w:$])[A-Za-z_:][\w:]*/g)) {
    const name = match[0];
    const calledAsFunction = /^\s*\(/.test(bare.slice(match.index + name.length));
    if (!calledAsFunction && !KEYWORDS.has(name.toLowerCase())) names.add(name);
  }
  return [...names];
}
