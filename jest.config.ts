import type { Config } from 'jest';

const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
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
};

export default config;
