/**
 * The client's retry table, one row per answer: the status, whether it carries `Retry-After`, and what the client
 * does. The unit spec checks the policy against it, the e2e suite runs it on both front ends against a real server,
 * and the table in docs/client.md says the same.
 */
export const RETRY_TABLE: readonly [status: number, retryAfter: boolean, decision: 'done' | 'retry' | 'rejected'][] = [
  [200, false, 'done'],
  [201, false, 'done'],
  [204, false, 'done'],
  [303, false, 'done'],
  [400, false, 'rejected'],
  [401, false, 'rejected'],
  [403, false, 'rejected'],
  [404, false, 'rejected'],
  [408, false, 'rejected'],
  [409, false, 'rejected'],
  [409, true, 'retry'],
  [410, false, 'rejected'],
  [413, false, 'rejected'],
  [415, false, 'rejected'],
  [422, false, 'rejected'],
  [422, true, 'rejected'],
  [429, false, 'retry'],
  [429, true, 'retry'],
  [500, false, 'retry'],
  [501, false, 'rejected'],
  [502, false, 'retry'],
  [503, true, 'retry'],
  [504, false, 'retry'],
  [505, false, 'rejected'],
];
