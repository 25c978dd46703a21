// The app's schedules, fired by `skiff scheduler` (npm run scheduler). Run one scheduler
// process or several (one per host, say): each slot of a schedule still fires once.
import { Scheduler } from "skiff";
import { purgeExpired } from "./maintenance/tasks.js";

export const scheduler = new Scheduler()
  .schedule("purge-expired", "* * * * *", purgeExpired.message());
