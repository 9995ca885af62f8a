import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { exportedMetricNames, OTHER_METRIC_NAMES } from './exported-metric-names';
import { rulesIn } from './prometheus-rule-file';
import { expectSuccess, promtool, promtoolVersion } from './promtool';
import { metricNamesIn } from './promql-metric-names';

/**
 * The operations docs' Prometheus rules and Grafana dashboard work against the metrics the library really exports:
 * promtool checks the rules and runs their unit tests, and every metric name a rule or a panel reads is one the
 * exporter prints or a rule records. Without promtool this suite fails, saying how to install it; it never skips.
 */
const OPERATIONS = resolve(__dirname, '../../docs/operations');
const RULES = 'idempotency.rules.yml';
const RULE_TESTS = 'idempotency.rules.test.yml';
const DASHBOARD = 'grafana-dashboard.json';

interface Panel {
  type: string;
  title: string;
  datasource?: { uid?: string };
  targets?: { expr: string }[];
}

interface Dashboard {
  schemaVersion: number;
  templating: { list: { name: string; type: string; query: unknown }[] };
  panels: Panel[];
}

const rules = rulesIn(readFileSync(join(OPERATIONS, RULES), 'utf8'));
const recorded = rules.filter((rule) => rule.kind === 'record').map((rule) => rule.name);

/** Names `exprs` read that are neither exported nor recorded, each with where it was read. */
function unknownNames(exprs: { where: string; expr: string }[], known: Set<string>): string[] {
  return exprs.flatMap(({ where, expr }) =>
    metricNamesIn(expr)
      .filter((name) => !known.has(name))
      .map((name) => `${where}: ${name}`),
  );
}

/** A panel's query as Prometheus would get it: Grafana's variables replaced by values of the same shape. */
function asPrometheusSees(expr: string): string {
  return expr.replace(/\$__rate_interval|\$__interval|\$__range/g, '5m').replace(/\$\{?route\}?/g, '.*');
}

describe('the Prometheus rules and the Grafana dashboard (docs/operations)', () => {
  let known: Set<string>;

  beforeAll(async () => {
    promtoolVersion();
    known = new Set([...(await exportedMetricNames()), ...OTHER_METRIC_NAMES, ...recorded]);
  });

  it('pass `promtool check rules`, and every rule is read here too', () => {
    const output = expectSuccess(promtool(['check', 'rules', RULES], OPERATIONS), `promtool check rules ${RULES}`);
    const found = /SUCCESS: (\d+) rules found/.exec(output);
    expect(found && Number(found[1])).toBe(rules.length);
  });

  it('pass their unit tests (`promtool test rules`)', () => {
    expectSuccess(promtool(['test', 'rules', RULE_TESTS], OPERATIONS), `promtool test rules ${RULE_TESTS}`);
  });

  it('read only metrics the exporter prints, or that a rule records', () => {
    expect(known).toContain('idempotency_requests_total');
    expect(known).toContain('idempotency_acquire_duration_bucket');
    const exprs = rules.map((rule) => ({ where: `${RULES}:${rule.line} ${rule.name}`, expr: rule.expr }));
    expect(unknownNames(exprs, known)).toEqual([]);
  });

  describe('the dashboard', () => {
    const dashboard = JSON.parse(readFileSync(join(OPERATIONS, DASHBOARD), 'utf8')) as Dashboard;
    const queries = dashboard.panels.filter((panel) => panel.type !== 'row');
    const exprs = queries.flatMap((panel) =>
      (panel.targets ?? []).map((target) => ({ where: `panel "${panel.title}"`, expr: target.expr })),
    );

    it('is a current Grafana dashboard with a Prometheus data source and a route variable', () => {
      expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
      const variables = Object.fromEntries(dashboard.templating.list.map((variable) => [variable.name, variable]));
      expect(variables.datasource).toMatchObject({ type: 'datasource', query: 'prometheus' });
      expect(variables.route).toMatchObject({
        type: 'query',
        query: { query: 'label_values(idempotency_requests_total, idempotency_route)' },
      });
      for (const panel of queries)
        expect({ [panel.title]: panel.datasource?.uid }).toEqual({ [panel.title]: '${datasource}' });
      expect(exprs.length).toBeGreaterThanOrEqual(queries.length);
    });

    it('queries only metrics the exporter prints, or that a rule records', () => {
      expect(unknownNames(exprs, known)).toEqual([]);
    });

    // promtool 2.42 (Debian 12) has no `promql format`, so each query goes through `check rules` as a recording rule.
    it('has queries that parse', () => {
      const dir = mkdtempSync(join(tmpdir(), 'dashboard-queries-'));
      try {
        const file = join(dir, 'queries.yml');
        const rules = exprs.map(
          ({ expr }, i) =>
            `      - record: dashboard:query_${i}\n        expr: ${JSON.stringify(asPrometheusSees(expr))}`,
        );
        writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${rules.join('\n')}\n`);
        const output = expectSuccess(
          promtool(['check', 'rules', file], dir),
          `promtool check rules on ${DASHBOARD}'s queries`,
        );
        expect(output).toContain(`SUCCESS: ${exprs.length} rules found`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});

describe('metricNamesIn', () => {
  it.each([
    ['sum by (job, le) (rate(a_total{x="b c", y=~"d|e"}[5m]))', ['a_total']],
    ['histogram_quantile(0.99, sum(rate(h_bucket[$__rate_interval])) by (le)) > 1e-3', ['h_bucket']],
    ['a:b:rate5m / (c:d:rate5m > 0) or 0 * e offset 5m', ['a:b:rate5m', 'c:d:rate5m', 'e']],
    ['x and on (job) group_left (instance) up == 1', ['x', 'up']],
  ])('%s', (expr, names) => {
    expect(metricNamesIn(expr)).toEqual(names);
  });
});
