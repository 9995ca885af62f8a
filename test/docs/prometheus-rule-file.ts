/** One rule of a Prometheus rule file: its name (the recorded metric or the alert) and its expression. */
export interface PrometheusRule {
  kind: 'record' | 'alert';
  name: string;
  expr: string;
  line: number;
}

/**
 * The rules of a Prometheus rule file, read line by line: each `- record:` or `- alert:` and its `expr`, inline or
 * as a `|` / `>-` block. Not a YAML parser, only for the shape our rule files have; the spec checks that it finds as
 * many rules as promtool does, so a rule it could not read fails the test instead of escaping it.
 */
export function rulesIn(text: string): PrometheusRule[] {
  const lines = text.split('\n');
  const rules: PrometheusRule[] = [];
  let current: Omit<PrometheusRule, 'expr'> | undefined;
  for (let i = 0; i < lines.length; i++) {
    const start = /^\s*- (record|alert):\s*(\S+)\s*$/.exec(lines[i]);
    if (start) {
      current = { kind: start[1] as PrometheusRule['kind'], name: start[2], line: i + 1 };
      continue;
    }
    const expr = /^(\s*)expr:\s*(.*)$/.exec(lines[i]);
    if (!expr || !current) continue;
    const [, indent, inline] = expr;
    if (!/^[|>][-+]?$/.test(inline)) {
      rules.push({ ...current, expr: inline.replace(/^'(.*)'$|^"(.*)"$/, '$1$2') });
    } else {
      const block: string[] = [];
      while (i + 1 < lines.length && (lines[i + 1].trim() === '' || indentOf(lines[i + 1]) > indent.length))
        block.push(lines[++i].trim());
      rules.push({ ...current, expr: block.join('\n').trim() });
    }
    current = undefined;
  }
  return rules;
}

function indentOf(line: string): number {
  return line.length - line.trimStart().length;
}
