import config from "../deno.json" with { type: "json" };

/** The version of skiff, read from `deno.json`, the one place it is kept. */
export const VERSION: string = config.version;
