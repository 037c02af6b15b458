import { displayName, MAX_NAME_LENGTH } from '../server/room/names';

describe('displayName', () => {
  it('removes zero-width characters, so look-alikes become the same name', () => {
    expect(displayName('b\u200bob')).toBe('bob');
    expect(displayName('\ufeffbob\u2060')).toBe('bob');
    expect(displayName('bo\u00adb')).toBe('bob');
    expect(displayName('b\u200cob')).toBe('bob');
  });

  it('removes bidirectional controls, so a name cannot reverse the text after it', () => {
    for (const control of ['\u061c', '\u200e', '\u200f', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069']) {
      expect(displayName(`ev${control}il`)).toBe('evil');
    }
    expect(displayName('\u202egnp.exe')).toBe('gnp.exe');
  });

  it('keeps a zero-width joiner between two emoji, so joined emoji survive', () => {
    const family = '\u{1F468}\u200d\u{1F469}\u200d\u{1F467}';
    expect(displayName(family)).toBe(family);
    expect(displayName(`dad ${family}`)).toBe(`dad ${family}`);
    const rainbowFlag = '\u{1F3F3}\uFE0F\u200D\u{1F308}';
    expect(displayName(rainbowFlag)).toBe(rainbowFlag);
    const darkSkinnedCook = '\u{1F9D1}\u{1F3FF}\u200D\u{1F373}';
    expect(displayName(darkSkinnedCook)).toBe(darkSkinnedCook);
    const englandFlag = '\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}';
    expect(displayName(englandFlag)).toBe(englandFlag);
  });

  it('drops a zero-width joiner that joins no emoji', () => {
    expect(displayName('b\u200dob')).toBe('bob');
    expect(displayName('\u200dbob\u200d')).toBe('bob');
    expect(displayName('\u{1F468}\u200d')).toBe('\u{1F468}');
  });

  it('still removes control characters, trims, and falls back to a guest name', () => {
    expect(displayName(' al\nice ')).toBe('alice');
    expect(displayName('\u200b\u200e')).toMatch(/^guest-[0-9a-f]{4}$/);
    expect(displayName(undefined)).toMatch(/^guest-[0-9a-f]{4}$/);
    expect(Array.from(displayName('x'.repeat(40)))).toHaveLength(MAX_NAME_LENGTH);
  });
});
