/**
 * Preloaded (`deno run --preload`) by the deno-deploy example's suite in place of the
 * platform's timer. `Deno.cron` still registers each job with Deno's own cron (which checks
 * the name and the schedule, and exists only with `--unstable-cron`, as on Deno Deploy it
 * always does), but with a handler that does nothing: SIGUSR2 runs every recorded handler
 * once instead, as a cron firing would. Deno Deploy picks up only the jobs registered
 * before any server starts, so a registration after `Deno.serve()` is printed as such.
 * Each registration and each finished run is printed, for the suite to wait on.
 *
 * @module
 */
type Handler = () => Promise<void> | void;
type Cron = (name: string, schedule: string, handler: Handler) => Promise<void>;
const jobs: { name: string; handler: Handler }[] = [];
const denoCron = (Deno as unknown as { cron?: Cron }).cron;
const denoServe = Deno.serve;
let serving = false;

Object.defineProperty(Deno, "serve", {
  configurable: true,
  value: (...args: Parameters<typeof Deno.serve>) => {
    serving = true;
    return denoServe.apply(Deno, args);
  },
});

// Without --unstable-cron there is no Deno.cron, and cronTick() says so.
if (typeof denoCron === "function") {
  Object.defineProperty(Deno, "cron", {
    configurable: true,
    value: (name: string, schedule: string, handler: Handler): Promise<void> => {
      const registered = denoCron(name, schedule, () => {});
      jobs.push({ name, handler });
      console.log(`cron registered${serving ? " after Deno.serve" : ""}: ${name} '${schedule}'`);
      return registered;
    },
  });
}

Deno.addSignalListener("SIGUSR2", () => {
  for (const { name, handler } of jobs) {
    Promise.resolve(handler()).then(() => console.log(`cron ran: ${name}`));
  }
});
