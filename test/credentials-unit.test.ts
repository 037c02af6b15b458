/**
 * What a client shows to get in, checked with no sockets: CHAT_TOKEN here (JWTs are
 * checked against real servers in jwt.test.ts and jwks.test.ts).
 */
import { Credentials, isEntryRefusal } from '../server/access/credentials';
import { createLogger } from '../server/support/logger';

const logger = createLogger('silent');

function credentials(chatToken: string | null, rejected: string[] = []): Credentials {
  return new Credentials(chatToken, null, { reject: (reason) => rejected.push(reason) }, logger);
}

const accepted = async (gate: Credentials, token: unknown) => !isEntryRefusal(await gate.check(token, 'lobby', 'upgrade', {}));

describe('Credentials: CHAT_TOKEN', () => {
  it('accepts anything without a token, only the token with one', async () => {
    expect(await accepted(credentials(null), undefined)).toBe(true);
    const rejected: string[] = [];
    const gate = credentials('sesame', rejected);
    expect(await accepted(gate, 'sesame')).toBe(true);
    expect(await accepted(gate, 'sesam')).toBe(false);
    expect(await accepted(gate, 'sesame ')).toBe(false);
    expect(await accepted(gate, undefined)).toBe(false);
    expect(await accepted(gate, ['sesame'])).toBe(false);
    expect(rejected).toEqual(['auth', 'auth', 'auth', 'auth']);
  });

  it('answers a wrong token as both wires need it: HTTP 401 and connect_error unauthorized', async () => {
    expect(await credentials('sesame').check('nope', 'lobby', 'join', {})).toEqual({
      status: 401,
      error: 'unauthorized',
      message: 'Missing or wrong token',
    });
  });
});
