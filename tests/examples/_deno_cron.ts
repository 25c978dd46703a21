/**
 * Preloaded (`deno run --preload`) by the deno-deploy example's suite in place of the
 * platform's timer: `Deno.cron` records each job it is given, and SIGUSR2 runs every
 * recorded handler once, as a cron firing would. Each registration and each finished run
 * is printed, for the suite to wait on.
 *
 * @module
 */
type Handler = () => Promise<void> | void;
const jobs: { name: string; handler: Handler }[] = [];

Object.defineProperty(Deno, "cron", {
  configurable: true,
  value: (name: string, schedule: string, handler: Handler): Promise<void> => {
    jobs.push({ name, handler });
    console.log(`cron registered: ${name} '${schedule}'`);
    return new Promise<void>(() => {});
  },
});

Deno.addSignalListener("SIGUSR2", () => {
  for (const { name, handler } of jobs) {
    Promise.resolve(handler()).then(() => console.log(`cron ran: ${name}`));
  }
});
