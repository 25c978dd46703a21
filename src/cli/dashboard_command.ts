/**
 * `skiff dashboard [module...]`: serves `dashboardApp()` locally, behind basic auth, until
 * SIGINT or SIGTERM.
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { dashboardApp } from "../dashboard/app.ts";
import { MIN_SECRET_LENGTH } from "../dashboard/_auth.ts";
import { chooseBroker } from "./_broker.ts";
import { CommandError, EXIT, firstLine, integerOption, type Io } from "./_io.ts";
import { chooseQueues, loadModules } from "./_load.ts";
import { serve } from "./_serve.ts";
import { onStopSignals } from "./_signals.ts";

/** Where the password comes from: never an argument, which `ps` shows to every user. */
export const ENV_PASSWORD = "SKIFF_DASHBOARD_PASSWORD";

/**
 * Runs `skiff dashboard`.
 *
 * @param args The arguments after `dashboard`.
 * @param io Output and signals.
 * @returns The exit code: 0 after a clean stop.
 * @throws {CommandError} Exit code 2 on bad arguments, no password, no queue or no
 *   broker; 3 when Redis cannot be reached at startup.
 */
export async function dashboardCommand(args: string[], io: Io): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        queues: { type: "string" },
        port: { type: "string", default: "8090" },
        host: { type: "string", default: "127.0.0.1" },
        user: { type: "string", default: "skiff" },
        "show-arguments": { type: "boolean", default: false },
      },
    });
  } catch (error) {
    throw new CommandError(`${firstLine(error)}; run 'skiff dashboard --help' for the options`);
  }
  const { values, positionals } = parsed;
  const port = integerOption("port", values.port, 0, 65_535);
  const password = process.env[ENV_PASSWORD] ?? "";
  if (password.length < MIN_SECRET_LENGTH) {
    throw new CommandError(
      `set ${ENV_PASSWORD} to a password of at least ${MIN_SECRET_LENGTH} characters: the ` +
        "dashboard never serves without credentials",
    );
  }
  if (values.user === "" || values.user.includes(":")) {
    throw new CommandError(`'--user' must be a non-empty name without ':'`);
  }
  const loaded = await loadModules(positionals);
  const queues = chooseQueues(values.queues, loaded, "dashboard");
  const chosen = chooseBroker();
  await chosen.probe(queues[0]);
  if (chosen.warning) io.err(`skiff dashboard: ${chosen.warning}`);
  const app = dashboardApp({
    broker: chosen.broker,
    queues,
    scheduler: loaded.schedulers,
    showArguments: values["show-arguments"],
    auth: { basic: { username: values.user, password } },
  });
  let served;
  try {
    served = await serve(app.fetch, { host: values.host, port });
  } catch (error) {
    throw new CommandError(`Cannot listen on ${values.host}:${port}: ${firstLine(error)}`);
  }
  const stopping = new Promise<void>((resolve) => onStopSignals(io, "dashboard", resolve));
  io.out(
    `skiff dashboard: listening on ${served.url}/ (user '${values.user}', password from ` +
      `${ENV_PASSWORD}; ${queues.length} queue(s); ${chosen.source})`,
  );
  await stopping;
  await served.close();
  io.out("skiff dashboard: stopped");
  return EXIT.OK;
}
