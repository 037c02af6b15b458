// @ts-check
// JavaScript, not TypeScript: Jest would load a jest.config.ts through ts-node on Node 20 (it
// has no TypeScript of its own before Node 22.18), which would be one more way to run
// TypeScript here. `npm run typecheck` still checks this file (tsconfig.json).

/** @type {import('jest').Config} */
const config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // TypeScript runs two ways in this repository: tsx's CommonJS hook for everything
    // outside Jest (tools/tsx.ts says why that one), and ts-jest here. Jest cannot use tsx:
    // it loads modules through its own registry (mocks, isolation per test file), not
    // Node's loader that tsx hooks, so it needs a transformer, and ts-jest is Jest's.
    // tsconfig.json sets isolatedModules, so ts-jest only transpiles (fast); type errors
    // are caught once, by `npm run typecheck`, before jest runs.
    '^.+\\.ts$': 'ts-jest',
    // jose ships ES modules only, which Jest's CommonJS runtime cannot load on Node 20:
    // they are transpiled to CommonJS like the tests (Node itself loads them as they are).
    '^.+/node_modules/jose/.+\\.js$': ['ts-jest', { tsconfig: { allowJs: true, isolatedModules: true, module: 'commonjs', target: 'ES2022' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
  // Code shared with the browser imports `./x.js` (browsers need the extension); here
  // that is the TypeScript file `./x.ts`.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  globalSetup: '<rootDir>/test/global-setup.ts',
  testTimeout: 20_000,
  // Two test files at a time, whatever the core count (Jest's default is one fewer than
  // the cores: a single worker on a 2-core machine). Most files spend their time waiting
  // on real servers, child processes and sockets rather than computing. The exception,
  // the tiny benchmark run (bench-smoke.test.ts: a server and its clients pinned to one
  // core each), runs alone after the rest in `npm test`: beside it, browser tests on a
  // 2-core machine ran out of time.
  maxWorkers: 2,
};

module.exports = config;
