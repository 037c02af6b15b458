/**
 * `describe` for tests that need a program on this machine (redis-server, nginx): where
 * it is missing (`found` null) they are skipped with a warning saying `missing`, unless
 * `requiredBy` is set to 1 in the environment (.ci/run sets it): then they fail.
 */
export function describeNeedingTool(
  name: string,
  tool: { found: string | null; label: string; missing: string; requiredBy: string },
  body: () => void,
): void {
  if (tool.found !== null) {
    describe(name, body);
    return;
  }
  if (process.env[tool.requiredBy] === '1') {
    describe(name, () => {
      it(`needs ${tool.label}`, () => {
        throw new Error(`${tool.missing}, and ${tool.requiredBy}=1`);
      });
    });
    return;
  }
  console.warn(`skipping "${name}": ${tool.missing}`);
  describe.skip(name, body);
}
