/**
 * A publish hook in a process of its own, for the tests: `node --require tsx/cjs
 * test/support/publish-hook-process.ts` with WEBHOOK_SECRET in its environment (and
 * HUGE_BYTES: the size of its `[huge]` replacement).
 *
 * It verifies each request's Standard Webhooks signature with `standardwebhooks` (401
 * without a valid one), then answers by the message's text:
 *   `[hang]` never | `[garbage]` 200, not JSON | `[unknown]` an unknown action |
 *   `[noreason]` a reject without a reason | `[huge]` a replacement of HUGE_BYTES bytes |
 *   `[500]` status 500 | `badword` reject, with a reason | `darn` replace it with `****` |
 *   anything else allow.
 * `[hold <key>]` answers only once the line `release <key>` comes on stdin.
 *
 * It prints one JSON line per event on stdout:
 *   {"type":"listening","port"}
 *   {"type":"held","key","body"}                         a request held until released
 *   {"type":"answered","id","body","status","answer"}    a verified request and its answer
 *   {"type":"invalid","reason"}                          a request that failed verification
 */
import http from 'node:http';
import { createInterface } from 'node:readline';
import { Webhook } from 'standardwebhooks';

const webhook = new Webhook(process.env.WEBHOOK_SECRET ?? '');
const hugeBytes = Number(process.env.HUGE_BYTES ?? '100000');
const print = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
/** Held answers, by key. */
const held = new Map<string, (() => void)[]>();

interface Question {
  text: string;
}

/** The status and body to answer `question` with; null: never answer. */
function answerTo(question: Question): { status: number; body: string } | null {
  const { text } = question;
  const json = (answer: object) => ({ status: 200, body: JSON.stringify(answer) });
  if (text.includes('[hang]')) return null;
  if (text.includes('[garbage]')) return { status: 200, body: 'this is not JSON {' };
  if (text.includes('[unknown]')) return json({ action: 'shrug' });
  if (text.includes('[noreason]')) return json({ action: 'reject' });
  if (text.includes('[huge]')) return json({ action: 'replace', text: 'x'.repeat(hugeBytes) });
  if (text.includes('[500]')) return { status: 500, body: '{"error":"failing on purpose"}' };
  if (text.includes('badword')) return json({ action: 'reject', reason: 'badword is not welcome here' });
  if (text.includes('darn')) return json({ action: 'replace', text: text.replaceAll('darn', '****') });
  return json({ action: 'allow' });
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    let question: Question;
    try {
      question = webhook.verify(body, req.headers as Record<string, string>) as Question;
    } catch (err) {
      print({ type: 'invalid', reason: (err as Error).message });
      res.writeHead(401).end();
      return;
    }
    const answer = () => {
      const reply = answerTo(question);
      if (reply !== null) res.writeHead(reply.status, { 'content-type': 'application/json' }).end(reply.body);
      print({ type: 'answered', id: req.headers['webhook-id'], body: question, status: reply?.status ?? null, answer: reply?.body.slice(0, 200) ?? null });
    };
    const hold = /\[hold (\w+)\]/.exec(question.text);
    if (hold === null) return answer();
    const key = hold[1] as string;
    held.set(key, [...(held.get(key) ?? []), answer]);
    print({ type: 'held', key, body: question });
  });
});

server.listen(0, '127.0.0.1', () => print({ type: 'listening', port: (server.address() as { port: number }).port }));

createInterface({ input: process.stdin }).on('line', (line) => {
  const [word, key] = line.trim().split(/\s+/);
  if (word !== 'release' || key === undefined) return;
  const answers = held.get(key) ?? [];
  held.delete(key);
  for (const answer of answers) answer();
});
process.on('SIGTERM', () => process.exit(0));
