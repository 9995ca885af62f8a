import mysql from 'mysql2/promise';
import { Client } from 'pg';
import { isAmbiguous, Operation } from './fault-client';

/** A payment the client meant to make once: one key, one body (so one reference), however many attempts. */
export interface LogicalPayment {
  customerId: string;
  amount: number;
  reference: string;
  /** The client's attempts until its first definite answer. */
  first: Operation;
  /** Later re-sends of the same key and body (a client that retries after all, or the survivor's retry). */
  resends: Operation[];
}

/** A refund the client meant to make once (at most one per payment in these scenarios). */
export interface LogicalRefund {
  paymentId: string;
  amount: number;
  op: Operation;
}

/** What the database holds at the end. */
export interface Ledger {
  balances: Map<string, number>;
  payments: Array<{ id: string; customerId: string; amount: number; reference: string; refundedAmount: number }>;
  /** `requestKey`: the idempotency key the refund was made with (UNIQUE per merchant). */
  refunds: Array<{ id: string; paymentId: string; amount: number; requestKey: string | null }>;
}

/** Reads customers, payments and refunds straight from PostgreSQL or MariaDB (never through a proxy under test). */
export async function readLedger(databaseUrl: string): Promise<Ledger> {
  const sql = {
    customers: 'SELECT id, balance FROM customers',
    payments: 'SELECT id, customer_id, amount, reference, refunded_amount FROM payments',
    refunds: 'SELECT id, payment_id, amount, request_key FROM refunds',
  };
  let rows: Record<keyof typeof sql, Array<Record<string, unknown>>>;
  if (databaseUrl.startsWith('mysql')) {
    const connection = await mysql.createConnection({ uri: databaseUrl, connectTimeout: 5_000 });
    try {
      const read = async (query: string) => (await connection.query(query))[0] as Array<Record<string, unknown>>;
      rows = {
        customers: await read(sql.customers),
        payments: await read(sql.payments),
        refunds: await read(sql.refunds),
      };
    } finally {
      await connection.end();
    }
  } else {
    const client = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
    await client.connect();
    try {
      const read = async (query: string) => (await client.query(query)).rows as Array<Record<string, unknown>>;
      rows = {
        customers: await read(sql.customers),
        payments: await read(sql.payments),
        refunds: await read(sql.refunds),
      };
    } finally {
      await client.end();
    }
  }
  // String() also reads identifiers a schema keeps as bytes (VARBINARY) as the UTF-8 text they are.
  const text = (value: unknown) => (value === null || value === undefined ? null : String(value));
  return {
    balances: new Map(rows.customers.map((row) => [text(row.id)!, Number(row.balance)])),
    payments: rows.payments.map((row) => ({
      id: text(row.id)!,
      customerId: text(row.customer_id)!,
      amount: Number(row.amount),
      reference: text(row.reference)!,
      refundedAmount: Number(row.refunded_amount),
    })),
    refunds: rows.refunds.map((row) => ({
      id: text(row.id)!,
      paymentId: text(row.payment_id)!,
      amount: Number(row.amount),
      requestKey: text(row.request_key),
    })),
  };
}

/** The outcome of the check: violations fail the scenario; notes are reported. */
export interface LedgerReport {
  violations: string[];
  notes: string[];
  /** Per customer: start, end, debits (start − end + refunds), Σ payments the client saw succeed, Σ accounted in-flight payments. */
  perCustomer: Array<{
    customerId: string;
    start: number;
    end: number;
    debits: number;
    seen: number;
    inFlight: number;
    refunds: number;
  }>;
  /** Logical payments with a row although the client never saw them succeed (accounted by an ambiguous attempt). */
  unseenButAccounted: number;
  /** Logical payments debited more than once plus refunds applied more than once: must be 0. */
  doubleDebits: number;
}

/**
 * Checks, from the database, the invariants every fault scenario must keep:
 *
 * 1. Per customer, balance = start − Σ payment rows + Σ refund rows (debit and row in one transaction), and
 *    each payment's refunded_amount = Σ of its refund rows.
 * 2. Every payment row belongs to one of the run's logical payments (same reference, customer and amount):
 *    no phantom debit; at most one row per logical payment: no payment debited twice.
 * 3. A logical payment whose first definite answer was 201 has exactly one row, with the id the client was given.
 * 4. A logical payment whose first definite answer was not 201 has a row only if one of its attempts was
 *    ambiguous (no HTTP answer, or a 5xx other than 503): the request was in flight when its answer was lost.
 *    A 402 never has a row; a 409 "reference used" always has one (and needs such an attempt before it).
 * 5. Hence Σ debits per customer = Σ of distinct payments the client saw succeed + Σ of the in-flight payments
 *    of (4), each counted once.
 * 6. Re-sends of a payment answered 201 get that same payment back (a replay) or 409 "reference used" (the
 *    record was lost or never completed: the schema refused a second debit); never another payment, never 402.
 * 7. Refunds: a refund answered 201 has its row, made with its key; one not answered 201 has none unless an
 *    attempt was ambiguous (or its answer was 409 "already made with this key", which needs a row and such an
 *    attempt); a payment has exactly the refund rows the client asked for — at most one here: no refund applied
 *    twice.
 */
export function checkLedger(
  ledger: Ledger,
  startBalances: Map<string, number>,
  payments: LogicalPayment[],
  refunds: LogicalRefund[],
): LedgerReport {
  const violations: string[] = [];
  const notes: string[] = [];
  const byReference = new Map(payments.map((payment) => [payment.reference, payment]));
  const rowsByReference = new Map<string, Ledger['payments']>();
  for (const row of ledger.payments) {
    if (!startBalances.has(row.customerId)) continue; // another scenario's customer (none expected)
    const rows = rowsByReference.get(row.reference) ?? [];
    rows.push(row);
    rowsByReference.set(row.reference, rows);
    const logical = byReference.get(row.reference);
    if (!logical)
      violations.push(`payment row ${row.id} (reference ${row.reference}) matches no payment the client made`);
    else if (logical.customerId !== row.customerId || logical.amount !== row.amount) {
      violations.push(
        `payment row ${row.id} has customer/amount ${row.customerId}/${row.amount}, the client sent ${logical.customerId}/${logical.amount}`,
      );
    }
  }
  const refundRowsByPayment = new Map<string, Ledger['refunds']>();
  for (const row of ledger.refunds) {
    const rows = refundRowsByPayment.get(row.paymentId) ?? [];
    rows.push(row);
    refundRowsByPayment.set(row.paymentId, rows);
  }

  // (1)
  const perCustomer: LedgerReport['perCustomer'] = [];
  const seenByCustomer = new Map<string, number>();
  const inFlightByCustomer = new Map<string, number>();
  for (const row of ledger.payments) {
    const refunded = (refundRowsByPayment.get(row.id) ?? []).reduce((sum, refund) => sum + refund.amount, 0);
    if (startBalances.has(row.customerId) && refunded !== row.refundedAmount) {
      violations.push(
        `payment ${row.id}: refunded_amount ${row.refundedAmount} but its refund rows sum to ${refunded}`,
      );
    }
  }

  // (2), (3), (4)
  let unseenButAccounted = 0;
  let doubleDebits = 0;
  const accountedReferences: string[] = [];
  for (const payment of payments) {
    const rows = rowsByReference.get(payment.reference) ?? [];
    const ambiguous = payment.first.attempts.some(isAmbiguous);
    const label = `payment ${payment.reference} (key ${payment.first.key}, answers ${describeAttempts(payment.first)})`;
    if (rows.length > 1) {
      doubleDebits++;
      violations.push(`${label} debited ${rows.length} times`);
    }
    switch (payment.first.final) {
      case 'succeeded': {
        if (rows.length === 0) violations.push(`${label}: the client saw 201 but there is no payment row`);
        else if (rows[0].id !== payment.first.answer?.id)
          violations.push(`${label}: the client saw payment ${payment.first.answer?.id}, the row is ${rows[0].id}`);
        else seenByCustomer.set(payment.customerId, (seenByCustomer.get(payment.customerId) ?? 0) + payment.amount);
        break;
      }
      case 'declined':
        if (rows.length > 0) violations.push(`${label}: answered 402 but debited`);
        break;
      case 'reference_conflict':
        if (rows.length === 0)
          violations.push(`${label}: answered 409 "reference used" but no payment has that reference`);
        else if (!payment.first.attempts.slice(0, -1).some(isAmbiguous))
          violations.push(`${label}: debited, yet no attempt before the 409 could have run it unseen`);
        break;
      default:
        if (rows.length > 0 && !ambiguous)
          violations.push(`${label}: debited, yet the client never saw it succeed and no attempt was ambiguous`);
    }
    if (payment.first.final !== 'succeeded' && rows.length > 0 && ambiguous) {
      unseenButAccounted++;
      inFlightByCustomer.set(payment.customerId, (inFlightByCustomer.get(payment.customerId) ?? 0) + payment.amount);
      accountedReferences.push(`${payment.reference} (${describeAttempts(payment.first)})`);
    }
    // (6)
    for (const resend of payment.resends) {
      if (resend.final === 'gave_up') {
        violations.push(`re-send of ${label} got no definite answer (${describeAttempts(resend)})`);
      } else if (payment.first.final === 'succeeded') {
        const same = resend.final === 'succeeded' && resend.answer?.id === payment.first.answer?.id;
        if (!same && resend.final !== 'reference_conflict') {
          violations.push(
            `re-send of ${label} answered ${resend.final} ${JSON.stringify(resend.answer)}, not the same payment nor 409 "reference used"`,
          );
        }
      }
    }
  }

  if (accountedReferences.length > 0) {
    notes.push(
      `${accountedReferences.length} payment(s) debited once although the client did not see them succeed — each had an ` +
        `attempt in flight when its answer was lost: ${accountedReferences.slice(0, 6).join(', ')}${accountedReferences.length > 6 ? ', …' : ''}`,
    );
  }

  // (5)
  for (const [customerId, start] of startBalances) {
    const end = ledger.balances.get(customerId);
    if (end === undefined) {
      violations.push(`customer ${customerId} is missing`);
      continue;
    }
    const paid = ledger.payments
      .filter((row) => row.customerId === customerId)
      .reduce((sum, row) => sum + row.amount, 0);
    const refunded = ledger.payments
      .filter((row) => row.customerId === customerId)
      .flatMap((row) => refundRowsByPayment.get(row.id) ?? [])
      .reduce((sum, row) => sum + row.amount, 0);
    if (end !== start - paid + refunded)
      violations.push(
        `customer ${customerId}: balance ${end} ≠ start ${start} − payments ${paid} + refunds ${refunded}`,
      );
    const debits = start - end + refunded;
    const seen = seenByCustomer.get(customerId) ?? 0;
    const inFlight = inFlightByCustomer.get(customerId) ?? 0;
    if (debits !== seen + inFlight) {
      violations.push(
        `customer ${customerId}: debits ${debits} ≠ distinct payments seen to succeed ${seen} + accounted in-flight ${inFlight}`,
      );
    }
    perCustomer.push({ customerId, start, end, debits, seen, inFlight, refunds: refunded });
  }

  // (7)
  for (const refund of refunds) {
    const rows = refundRowsByPayment.get(refund.paymentId) ?? [];
    const ambiguous = refund.op.attempts.some(isAmbiguous);
    const label = `refund of ${refund.amount} on payment ${refund.paymentId} (key ${refund.op.key}, answers ${describeAttempts(refund.op)})`;
    if (rows.some((row) => row.amount !== refund.amount)) violations.push(`${label}: a refund row has another amount`);
    if (rows.length > 1) {
      doubleDebits++;
      violations.push(`${label} applied ${rows.length} times`);
    }
    if (rows.some((row) => row.requestKey !== refund.op.key))
      violations.push(`${label}: a refund row carries another key (${rows.map((row) => row.requestKey).join(', ')})`);
    if (refund.op.final === 'succeeded' && !rows.some((row) => row.id === refund.op.answer?.id))
      violations.push(`${label}: answered 201 but its row is missing`);
    if (refund.op.final === 'reference_conflict' && rows.length === 0)
      violations.push(`${label}: answered 409 "already made" but there is no refund row`);
    if (refund.op.final !== 'succeeded' && rows.length > 0 && !ambiguous)
      violations.push(`${label}: applied although never answered 201 and no attempt was ambiguous`);
  }
  const refundedPayments = new Set(refunds.map((refund) => refund.paymentId));
  for (const [paymentId, rows] of refundRowsByPayment) {
    if (
      !refundedPayments.has(paymentId) &&
      ledger.payments.some((row) => row.id === paymentId && startBalances.has(row.customerId))
    ) {
      violations.push(`payment ${paymentId} has ${rows.length} refund row(s) the client never asked for`);
    }
  }
  return { violations, notes, perCustomer, unseenButAccounted, doubleDebits };
}

/** `201 503 503 0 …`: the statuses of an operation's attempts (0: no answer). */
export function describeAttempts(operation: Operation): string {
  return operation.attempts.map((attempt) => (attempt.inFlight ? '409i' : String(attempt.status))).join(' ');
}
