/**
 * How this repository runs TypeScript outside Jest: `node --require tsx/cjs file.ts`,
 * tsx's CommonJS hook. The package.json scripts spell the same out (JSON has no
 * comments), and everything that starts a TypeScript process (the tests' servers and
 * clients, the benchmark's processes) takes its flags from here.
 *
 * Why this form of tsx, and not the `tsx` command or `node --import tsx`:
 * - The `tsx` command starts Node as a child of its own: a test's signal or SIGKILL, and
 *   the pid it watches, would be the wrapper's, not the server's.
 * - `--import tsx` adds tsx's ES module hooks (run in a worker thread), which this
 *   CommonJS code (tsconfig: "module": "commonjs") does not need; it starts a process in
 *   about twice the time, which counts where tests and benchmark trials start many.
 * Jest is the one exception, and cannot be helped: it loads modules through its own
 * registry, not Node's loader that tsx hooks, so it takes ts-jest (jest.config.js).
 */
export const TSX_NODE_FLAGS: readonly string[] = ['--require', 'tsx/cjs'];
