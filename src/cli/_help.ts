/** The `--help` text of each command, printed to stdout. */

const MODULES = `Modules (each argument is one of):
  FILE         a module file: app.ts, actors.mjs, ./src/tasks.js
  DIR          every actors.* and tasks.* file beneath DIR, and every module file in a
               directory named actors or tasks (.ts, .mts, .js, .mjs; skipping
               node_modules, dot directories, .d.ts and test files)
  'GLOB'       quoted, so that skiff expands it: 'src/**/actors.ts', 'jobs/*.{ts,js}'
  PACKAGE      a package name resolved from the current directory's node_modules:
               my-actors, @acme/jobs/actors`;

const BROKER = `Broker: the one a module set with setBroker(...), else an UpstashBroker from
UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN. With neither, the command refuses
to start (exit 2).`;

const OPS_EXITS = `Exit codes:
  0    done
  2    bad arguments or configuration: fix the command or the environment
  3    Redis could not be reached: retrying may help`;

const QUEUES = `Queues: those --queues names, else every queue an actor or a schedule of the modules
is declared on. Modules are optional when --queues is given and the broker comes from
the environment.`;

const EXITS = `Exit codes:
  0    clean stop (or help)
  2    bad arguments or configuration: fix the command or the environment
  3    Redis could not be reached at startup: retrying may help
  130  a second SIGINT/SIGTERM (250 ms or more after the first) before the graceful
       stop ended`;

/** Help for each command, by name; "" is the top level. */
export const HELP: Readonly<Record<string, string>> = {
  "": `skiff: run skiff actors and schedules from the command line

Usage: skiff <command> [options]

Commands:
  worker <module...>      import the modules that declare actors, then process their queues
  scheduler <module...>   import the modules that declare schedules, then fire each slot once
  local                   serve the Upstash REST protocol in front of a redis-server
  stats [module...]       count each queue's messages: ready, delayed, leased, dead
  dead <action>           list, show, requeue or purge dead letters
  flush [module...]       delete every ready, delayed and dead message of queues (--yes)
  schedules <module...>   each schedule's last and next slot
  dashboard [module...]   serve the dashboard locally (basic auth)
  version                 print the version
  help [command]          print this help, or a command's

Run 'skiff <command> --help' for a command's options.

Runtimes:
  Node   npx skiff worker actors.mjs
  Deno   deno run -A jsr:@skiff/skiff/cli worker app.ts
  Bun    bunx --bun skiff worker app.ts

${EXITS}`,

  worker: `skiff worker: import the modules that declare actors, then process their queues
until SIGINT or SIGTERM

Usage: skiff worker <module...> [options]

Options:
  --queues <a,b>            queues to consume (default: every queue an imported actor is
                            declared on); each must have a declared actor
  --concurrency <n>         messages processed at once, an integer from 1 to 1024 (default 8)
  --prefetch <n>            messages held unacked at most (claimed ahead, running, acking),
                            an integer from 1 to 65536 (default four times --concurrency,
                            at least 64); a crash runs again at most this many
  --shutdown-timeout <ms>   how long messages in flight may finish after the first
                            signal, an integer (default 30000)
  --metrics-port <n>        serve Prometheus metrics at http://<host>:<n>/metrics (0: a
                            free port); each scrape reads each queue's depth (4 Redis
                            commands per queue)
  --metrics-host <address>  address the metrics listen on (default 127.0.0.1)
  --log-format <text|json>  text lines (default), or one JSON object per line with
                            the fields id, actor, queue, attempt, outcome, error
  -h, --help                print this help

${MODULES}

${BROKER}

Signals: the first SIGINT or SIGTERM stops claiming and lets messages in flight finish;
repeats within 250 ms count as the same keypress; a later one exits 130 at once.

${EXITS}`,

  scheduler: `skiff scheduler: import the modules that declare schedules, then fire each slot
once until SIGINT or SIGTERM

Usage: skiff scheduler <module...>

Schedules: those declared on getScheduler() and on every Scheduler a module exports,
ticked at each whole second. Several scheduler processes on one Redis still fire each
slot once. A schedule name declared by two schedulers is refused (exit 2).

Options:
  -h, --help   print this help

${MODULES}

${BROKER}

${EXITS}`,

  local: `skiff local: serve the Upstash REST protocol in front of a redis-server, until
SIGINT or SIGTERM

Usage: skiff local --token <token> [options]

Options:
  --token <token>       bearer token clients must send (or SKIFF_LOCAL_TOKEN)
  --redis <url>         redis://[user:password@]host:port[/db] (default redis://127.0.0.1:6379)
  --port <n>            port to listen on, 0 for a free one (default 8079)
  --host <address>      address to listen on (default 127.0.0.1)
  --latency <ms>        fault mode: delay each request
  --error-rate <0-1>    fault mode: answer this share of requests with 503
  --drop-rate <0-1>     fault mode: run, then drop this share of responses
  -h, --help            print this help

Clients then use UPSTASH_REDIS_REST_URL=http://127.0.0.1:8079 and
UPSTASH_REDIS_REST_TOKEN=<token>.

Exit codes:
  0    clean stop (or help)
  2    bad arguments, or no token
  3    the redis-server could not be reached`,

  stats: `skiff stats: count each queue's messages by state (4 Redis commands per queue)

Usage: skiff stats [module...] [options]

Options:
  --queues <a,b>   queues to count
  --json           print one JSON array: [{ queue, ready, delayed, leased, dead }]
  -h, --help       print this help

ready: waiting for a worker; delayed: waiting for an eta or a retry backoff; leased: held
by a worker (an expired lease too, until a claim recovers it); dead: dead letters kept.

${QUEUES}

${MODULES}

${BROKER}

${OPS_EXITS}`,

  flush: `skiff flush: delete every ready, delayed and dead message of queues, as Dramatiq's
flush does; messages in flight finish. Prints how many went, by state.

Usage: skiff flush [module...] [--queues <a,b>] --yes [--json]

Options:
  --queues <a,b>   queues to flush
  --yes            confirm: without it, nothing is deleted (exit 2)
  --json           print one JSON array: [{ queue, ready, delayed, dead }]
  -h, --help       print this help

${QUEUES}

${MODULES}

${BROKER}

${OPS_EXITS}`,

  dead: `skiff dead: list, show, requeue or purge dead letters

Usage:
  skiff dead list [module...] [--queues <a,b>] [--limit <n>] [--json]
  skiff dead show --id <id> [module...] [--queues <a,b>] [--arguments] [--json]
  skiff dead requeue (--id <id>... | --all --yes) [module...] [--queues <a,b>] [--json]
  skiff dead purge (--id <id>... | --all --yes) [module...] [--queues <a,b>] [--json]

Actions:
  list      each dead letter, oldest first: queue, id, actor, when and why it died
  show      one dead letter: its reason in full, retries, and its arguments with
            --arguments (hidden otherwise: they may hold personal data)
  requeue   move dead letters back to ready, keeping their retry count
  purge     delete dead letters

Options:
  --queues <a,b>   queues to look in
  --id <id>        a message id; repeat it for several
  --all            every dead letter of the queues (requeue and purge); needs --yes
  --yes            confirm a bulk action
  --limit <n>      list at most n per queue (default 100)
  --arguments      show shows the message's arguments
  --json           print JSON
  -h, --help       print this help

An --id that is not a dead letter of the queues is reported on stderr (exit 2) after the
others are done.

${QUEUES}

${MODULES}

${BROKER}

${OPS_EXITS}`,

  schedules: `skiff schedules: each declared schedule's last slot (read from Redis) and next
slot

Usage: skiff schedules <module...> [--json]

Schedules: those declared on getScheduler() and on every Scheduler a module exports.
"last" is the latest slot a scheduler handled (fired, or skipped by a policy), "-" when
none; "unknown" when the records are not in Redis (a MemoryBroker). One request reads
every record (1 EVALSHA and 1 GET per schedule).

Options:
  --json       print one JSON array: [{ name, cron, timezone, actor, queue, last,
               lastId, next }], times in milliseconds since the epoch
  -h, --help   print this help

${MODULES}

${BROKER}

${OPS_EXITS}`,

  dashboard: `skiff dashboard: serve the dashboard (queues, messages in flight, dead letters
with requeue and purge, schedules) locally, until SIGINT or SIGTERM

Usage: SKIFF_DASHBOARD_PASSWORD=<password> skiff dashboard [module...] [options]

Options:
  --queues <a,b>       queues to show
  --port <n>           port to listen on, 0 for a free one (default 8090)
  --host <address>     address to listen on (default 127.0.0.1)
  --user <name>        the basic auth user name (default skiff)
  --show-arguments     show messages' arguments (hidden otherwise: they may hold
                       personal data)
  -h, --help           print this help

The password (at least 16 characters) comes from SKIFF_DASHBOARD_PASSWORD, never from an
argument; without it the command refuses to start (exit 2).

${QUEUES}

${MODULES}

${BROKER}

Exit codes:
  0    clean stop (or help)
  2    bad arguments or configuration: fix the command or the environment
  3    Redis could not be reached at startup: retrying may help`,
};
