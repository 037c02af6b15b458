/**
 * Admission on its own, with no sockets: the caps per address and in total, the share
 * unproven sessions may hold and the eviction of the oldest of them, and a ticket given
 * back exactly once.
 */
import { Admission, isRefusal, unprovenShare, type Refusal, type Ticket } from '../server/access/admission';

function admission(maxConnections: number, maxConnectionsPerIp = 0): Admission {
  return new Admission({ maxConnections, maxConnectionsPerIp });
}

/** A ticket, failing the test when the answer was a refusal. */
function ticket(answer: Ticket | Refusal): Ticket {
  if (isRefusal(answer)) throw new Error(`refused: ${answer.status} ${answer.message}`);
  return answer;
}

/** The HTTP status of a refusal, or 'ticket'. */
const status = (answer: Ticket | Refusal) => (isRefusal(answer) ? answer.status : 'ticket');

/** Admits an unproven session and records its eviction into `evicted` as `label`. */
function unproven(gate: Admission, ip: string, evicted: string[], label: string): Ticket {
  const held = ticket(gate.admit(ip, false));
  held.onEvict = () => evicted.push(label);
  return held;
}

describe('Admission: caps', () => {
  it('refuses an address over its cap with 429, and takes it again once one of its places is back', () => {
    const gate = admission(10, 2);
    const first = ticket(gate.admit('10.0.0.1', true));
    ticket(gate.admit('10.0.0.1', false)); // unproven sessions count for their address too
    const refused = gate.admit('10.0.0.1', true);
    expect(refused).toEqual({ status: 429, reason: 'capacity', message: expect.any(String) });
    expect(status(gate.admit('10.0.0.2', true))).toBe('ticket'); // another address is not affected
    gate.release(first);
    expect(status(gate.admit('10.0.0.1', true))).toBe('ticket');
    expect(gate.connections).toBe(3);
  });

  it('has no cap per address when it is 0', () => {
    const gate = admission(5, 0);
    for (let i = 0; i < 5; i += 1) ticket(gate.admit('10.0.0.1', true));
    expect(status(gate.admit('10.0.0.1', true))).toBe(503);
  });

  it('refuses everyone with 503 once the total is reached by proven clients, until one leaves', () => {
    const gate = admission(3);
    const held = ['a', 'b', 'c'].map((ip) => ticket(gate.admit(ip, true)));
    const full = gate.admit('d', true);
    expect(full).toEqual({ status: 503, reason: 'capacity', message: expect.any(String) });
    expect(status(gate.admit('d', false))).toBe(503);
    expect(gate.connections).toBe(3);
    gate.release(held[1] as Ticket);
    expect(status(gate.admit('d', true))).toBe('ticket');
    expect(status(gate.admit('e', true))).toBe(503);
  });

  it('checks the address before the total: a full server still answers 429 to an address over its cap', () => {
    const gate = admission(2, 1);
    ticket(gate.admit('a', true));
    ticket(gate.admit('b', true));
    expect(status(gate.admit('a', true))).toBe(429);
    expect(status(gate.admit('c', true))).toBe(503);
  });
});

describe('Admission: unproven sessions', () => {
  it('hold a quarter of the places, at least one', () => {
    expect([1, 3, 4, 7, 8, 100].map(unprovenShare)).toEqual([1, 1, 1, 1, 2, 25]);
  });

  it('past their share, a newcomer from another address evicts the oldest; the place is free before its session is closed', () => {
    const gate = admission(8); // share: 2
    const evicted: string[] = [];
    const oldest = unproven(gate, 'a', evicted, 'a');
    oldest.onEvict = () => {
      // Already uncounted when told: the newcomer's place is not taken twice.
      evicted.push(`a:${oldest.state}:${gate.connections}`);
    };
    unproven(gate, 'b', evicted, 'b');
    expect(evicted).toEqual([]);
    const newcomer = unproven(gate, 'c', evicted, 'c');
    expect(evicted).toEqual(['a:released:1']);
    expect(newcomer.state).toBe('unproven');
    expect(gate.connections).toBe(2);
    unproven(gate, 'd', evicted, 'd');
    expect(evicted).toEqual(['a:released:1', 'b']); // oldest first
  });

  it('refuse a newcomer whose address already has an unproven session waiting, instead of evicting', () => {
    const gate = admission(8, 0); // share: 2
    const evicted: string[] = [];
    unproven(gate, 'a', evicted, 'a1');
    unproven(gate, 'b', evicted, 'b1');
    // 'a' cannot push 'b' out, nor churn through its own sessions.
    expect(status(gate.admit('a', false))).toBe(503);
    expect(status(gate.admit('b', false))).toBe(503);
    expect(evicted).toEqual([]);
    expect(gate.connections).toBe(2);
    // A proven client from 'a' is not an unproven session: it takes a free place.
    expect(status(gate.admit('a', true))).toBe('ticket');
    expect(evicted).toEqual([]);
  });

  it('make way for a proven client when the server is full', () => {
    const gate = admission(4); // share: 1
    const evicted: string[] = [];
    ticket(gate.admit('p1', true));
    ticket(gate.admit('p2', true));
    ticket(gate.admit('p3', true));
    unproven(gate, 'u', evicted, 'u');
    expect(gate.connections).toBe(4);
    expect(status(gate.admit('p4', true))).toBe('ticket');
    expect(evicted).toEqual(['u']);
    expect(gate.connections).toBe(4);
    // Only proven clients left: nothing more to evict.
    expect(status(gate.admit('p5', true))).toBe(503);
    expect(evicted).toEqual(['u']);
  });

  it('once proven, are counted like any client and never evicted', () => {
    const gate = admission(4); // share: 1
    const evicted: string[] = [];
    const session = unproven(gate, 'a', evicted, 'a');
    gate.prove(session);
    expect(session.state).toBe('proven');
    // The share is free again: another unproven session fits without evicting anyone.
    const other = unproven(gate, 'b', evicted, 'b');
    expect(evicted).toEqual([]);
    ticket(gate.admit('c', true));
    ticket(gate.admit('d', true));
    expect(status(gate.admit('e', true))).toBe('ticket'); // evicts b, the only unproven one
    expect(evicted).toEqual(['b']);
    expect(other.state).toBe('released');
    expect(status(gate.admit('f', true))).toBe(503);
    expect(session.state).toBe('proven');
  });

  it('from one address stop blocking it once proven', () => {
    const gate = admission(8); // share: 2
    const evicted: string[] = [];
    const first = unproven(gate, 'a', evicted, 'a1');
    unproven(gate, 'b', evicted, 'b1');
    expect(status(gate.admit('a', false))).toBe(503);
    gate.prove(first);
    expect(status(gate.admit('a', false))).toBe('ticket'); // the share has a free place again
  });
});

describe('Admission: release', () => {
  it('counts only the first release of a ticket', () => {
    const gate = admission(2, 1);
    const held = ticket(gate.admit('a', true));
    ticket(gate.admit('b', true));
    gate.release(held);
    gate.release(held);
    expect(gate.connections).toBe(1);
    expect(held.state).toBe('released');
    // The address's count went down once too: it may hold one again, not two.
    ticket(gate.admit('a', true));
    expect(status(gate.admit('c', true))).toBe(503);
    expect(gate.connections).toBe(2);
  });

  it('of an evicted session (its close still reported) changes nothing', () => {
    const gate = admission(4); // share: 1
    const evicted: string[] = [];
    const victim = unproven(gate, 'a', evicted, 'a');
    victim.onEvict = () => {
      evicted.push('a');
      gate.release(victim); // the session's close, reported from inside the eviction
    };
    unproven(gate, 'b', evicted, 'b');
    expect(evicted).toEqual(['a']);
    gate.release(victim);
    expect(gate.connections).toBe(1);
    ticket(gate.admit('c', true));
    ticket(gate.admit('d', true));
    ticket(gate.admit('e', true));
    expect(gate.connections).toBe(4);
  });

  it('of an unproven session frees its share and its address; proving it afterwards does nothing', () => {
    const gate = admission(4, 1); // share: 1
    const evicted: string[] = [];
    const session = unproven(gate, 'a', evicted, 'a');
    gate.release(session);
    gate.prove(session);
    expect(session.state).toBe('released');
    expect(gate.connections).toBe(0);
    unproven(gate, 'a', evicted, 'a2'); // same address, same share: fits, nobody evicted
    expect(evicted).toEqual([]);
    expect(gate.connections).toBe(1);
  });

  it('ignores a ticket it did not hand out', () => {
    const gate = admission(2);
    ticket(gate.admit('a', true));
    gate.release(ticket(admission(2).admit('a', true)));
    expect(gate.connections).toBe(1);
  });
});
