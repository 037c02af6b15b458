import type { Logger } from 'pino';

/** One step of a graceful shutdown. */
type Step = () => unknown;

/**
 * A graceful shutdown as a list of steps, run one after the other in the order they were
 * added. Each part of the server adds its own step next to where it is built, so the
 * order of shutdown follows the order of construction, written in one place.
 */
export class Shutdown {
  private readonly steps: { name: string; step: Step }[] = [];
  private running: Promise<void> | undefined;

  constructor(private readonly logger: Logger) {}

  add(name: string, step: Step): void {
    this.steps.push({ name, step });
  }

  /** Runs every step once; later calls get the same promise. A failing step is logged, the rest still run. */
  run(): Promise<void> {
    this.running ??= (async () => {
      for (const { name, step } of this.steps) {
        try {
          await step();
        } catch (err) {
          this.logger.error({ err, step: name }, 'shutdown step failed');
        }
      }
    })();
    return this.running;
  }
}
